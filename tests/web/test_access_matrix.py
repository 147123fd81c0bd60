"""Access matrix: every route of app.url_map x every role (plus anonymous) -> allowed, 403, 404 or sign-in.

Expected outcomes come from the tables written out in access_expectations.py (MAY: what each identity may do;
GRIDS: who reads and changes each admin grid), never from portal.security: tests below check that PERMISSIONS and
the views' declarations agree with them. A route the matrix does not know fails: add it to SITE or ADMIN_FUNCS
below; a permission no probe relies on fails too.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from flask import url_for

from portal.extensions import db
from portal.models.user import ROLE_CATALOG
from portal.security import PERMISSIONS  # only to check it against the written-out tables
from tests.support import factories
from tests.support.web import login_as, page_csrf
from tests.web.access_expectations import ANON, GRIDS, MAY, RELIED_ON, finds_row, grid, may, reads, writes
from tests.web.access_probes import LOGIN, Probe, check
from tests.web.access_receivables import SITE as RECEIVABLES_SITE
from tests.web.access_world import DISPOSABLE

IDENTITIES = list(MAY)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---- site routes: endpoint -> (declared permission, None for public; probes for an identity) -----------------

def _guarded(endpoint, url, permission, identity, ok=200):
    if identity == ANON:
        return Probe(endpoint, "GET", url, 302, LOGIN)
    return Probe(endpoint, "GET", url, ok if may(identity, permission) else 403)


def _home(i, w):
    target = "/login" if i == ANON else "/portal/" if may(i, "portal.view") else "/dashboard"
    return [Probe("main.home", "GET", "/", 302, target)]


def _contract_pages(i, w):
    own, other = (url_for("customer_portal.contract", contract_id=c.id) for c in (w.own_contract, w.other_contract))
    missing = url_for("customer_portal.contract", contract_id=999_999)
    return [_guarded("customer_portal.contract", url, "portal.view", i, ok)
            for url, ok in ((own, 200), (other, 404), (missing, 404))]


def _login(i, w):
    wrong = {"email": "nobody@staff.example", "password": "wrong password"}
    if i == ANON:
        return [Probe("auth.login", "GET", "/login", 200),
                Probe("auth.login", "POST", "/login", 401, data=wrong, audits="refused")]
    return [Probe("auth.login", m, "/login", 302, "/", data=wrong) for m in ("GET", "POST")]


def _no_pending_sign_in(endpoint, url):  # second-factor pages without a password step go back to sign-in
    return lambda i, w: [Probe(endpoint, m, url, 302, "/login", data={"code": "123456"}) for m in ("GET", "POST")]


def _sees(i, w) -> bool:
    """Candidates of the open task see it, and so do those who may manage every task."""
    return i in w.task.candidate_roles or may(i, "tasks.manage")


def _task_detail(i, w):
    url = url_for("tasks.detail", task_id=w.task.id)
    if i == ANON:
        return [Probe("tasks.detail", "GET", url, 302, LOGIN)]
    if not may(i, "tasks.view"):
        return [Probe("tasks.detail", "GET", url, 403)]
    return [Probe("tasks.detail", "GET", url, 200 if _sees(i, w) else 404)]


def _missing_task_post(endpoint, **extra):
    """POSTs on a task that does not exist: nothing changes; what allowed POSTs do is in test_inbox.py and
    test_proforma_review.py."""
    def probes(i, w):
        url = url_for(endpoint, task_id=999_999, **extra)
        if i == ANON:
            return [Probe(endpoint, "POST", url, 302, LOGIN)]
        return [Probe(endpoint, "POST", url, 404 if may(i, "tasks.view") else 403)]
    return probes


TASK_POSTS = ("tasks.claim", "tasks.unclaim", "tasks.reassign", "tasks.comment", "tasks.complete")


def _real_task_outcome(endpoint, i, w) -> int | None:
    """What a POST on the world's open review task answers, or None where it would (rightly) change things.

    Who cannot see the task gets 404 as if it did not exist. Who can see it sends what must change nothing:
    an unclaim of an unclaimed task, an empty reassign or comment (each flashed, back to the task), and an
    empty form: the reviewer lacks the required hours (400), a manager is not a reviewer (403).
    """
    if not _sees(i, w):
        return 404
    return {"tasks.claim": None, "tasks.unclaim": 302, "tasks.reassign": 302, "tasks.comment": 302,
            "tasks.complete": 400 if i in w.task.candidate_roles else 403}[endpoint]


def _task_posts(endpoint):
    """On a missing task and on the world's real one; see _real_task_outcome."""
    def probes(i, w):
        found = _missing_task_post(endpoint)(i, w)
        url = url_for(endpoint, task_id=w.task.id)
        if i == ANON or not may(i, "tasks.view"):
            return [*found, replace(found[0], url=url)]
        status = _real_task_outcome(endpoint, i, w)
        location = url_for("tasks.detail", task_id=w.task.id) if status == 302 else None
        return [*found, *([Probe(endpoint, "POST", url, status, location)] if status else [])]
    return probes


def _proforma_pages(endpoint, **extra):
    """Own approved proforma: 200; another customer's or a missing one: 404 (only customers get that far)."""
    def probes(i, w):
        cases = ((w.own_proforma.id, 200), (w.other_proforma.id, 404), (999_999, 404))
        return [_guarded(endpoint, url_for(endpoint, proforma_id=pid, **extra), "portal.view", i, ok)
                for pid, ok in cases]
    return probes


def _draft_button(i, w):
    """A month with nothing to draft would still change rows; a bad month changes nothing for anyone."""
    url = url_for("main.draft_proformas")
    if i == ANON:
        return [Probe("main.draft_proformas", "POST", url, 302, LOGIN, data={"period": "not-a-month"})]
    status = 302 if may(i, "billing.draft") else 403
    return [Probe("main.draft_proformas", "POST", url, status, data={"period": "not-a-month"})]


def _proforma_list(i, w):
    """The staff list, and with a filter that means nothing: a 400 naming it for those who may open the list."""
    return [_guarded("proformas.index", url_for("proformas.index"), "proformas.view", i),
            _guarded("proformas.index", url_for("proformas.index", gross_min="lots"), "proformas.view", i, 400)]


def _proforma_exports(i, w):
    probes = []
    for fmt, mimetype in (("csv", "text/csv"), ("xlsx", XLSX)):
        probe = _guarded("proformas.export", url_for("proformas.export", fmt=fmt), "proformas.view", i)
        probes.append(replace(probe, mimetype=mimetype) if probe.status == 200 else probe)
    return probes


def _proforma_cases(endpoint, **extra):
    """Staff who may see proformas open any customer's case (and its file); a missing one is a 404."""
    def probes(i, w):
        cases = ((w.own_proforma.id, 200), (w.other_proforma.id, 200), (999_999, 404))
        if not extra:  # in its process: the page reads the open task, its holder and the timeline
            cases += ((w.case.id, 200),)
        return [replace(_guarded(endpoint, url_for(endpoint, proforma_id=pid, **extra), "proformas.view", i, ok),
                        body=b"%PDF-1.4 proforma" if extra else None) for pid, ok in cases]
    return probes


def _draft_period(i, w):
    """The list's "Draft period", as the dashboard's button: a bad month changes nothing and goes back to the list."""
    url = url_for("proformas.draft")
    if i == ANON:
        return [Probe("proformas.draft", "POST", url, 302, LOGIN, data={"period": "not-a-month"})]
    if may(i, "billing.draft"):
        return [Probe("proformas.draft", "POST", url, 302, url_for("proformas.index"), data={"period": "not-a-month"})]
    return [Probe("proformas.draft", "POST", url, 403, data={"period": "not-a-month"})]


SITE = {
    "main.draft_proformas": ("billing.draft", _draft_button),
    "proformas.index": ("proformas.view", _proforma_list),
    "proformas.export": ("proformas.view", _proforma_exports),
    "proformas.case": ("proformas.view", _proforma_cases("proformas.case")),
    "proformas.document": ("proformas.view", _proforma_cases("proformas.document", fmt="pdf")),
    "proformas.draft": ("billing.draft", _draft_period),
    "customer_portal.proforma": ("portal.view", _proforma_pages("customer_portal.proforma")),
    "customer_portal.proforma_file": ("portal.view", _proforma_pages("customer_portal.proforma_file", fmt="pdf")),
    "tasks.inbox": ("tasks.view", lambda i, w: [_guarded("tasks.inbox", "/tasks/", "tasks.view", i)]),
    "tasks.detail": ("tasks.view", _task_detail),
    **{endpoint: ("tasks.view", _task_posts(endpoint)) for endpoint in TASK_POSTS},
    "proforma_review.add_line": ("tasks.view", _missing_task_post("proforma_review.add_line")),
    **{endpoint: ("tasks.view", _missing_task_post(endpoint, line_id=1))
       for endpoint in ("proforma_review.change_line", "proforma_review.remove_line")},
    "main.home": (None, _home),
    "main.dashboard": ("dashboard.view", lambda i, w: [_guarded("main.dashboard", "/dashboard", "dashboard.view", i)]),
    "customer_portal.home": ("portal.view",
                             lambda i, w: [_guarded("customer_portal.home", "/portal/", "portal.view", i)]),
    "customer_portal.contract": ("portal.view", _contract_pages),
    "auth.login": (None, _login),
    "auth.code": (None, _no_pending_sign_in("auth.code", "/login/code")),
    "auth.enroll": (None, _no_pending_sign_in("auth.enroll", "/login/enroll")),
    "auth.logout_page": (None, lambda i, w: [Probe("auth.logout_page", "GET", "/logout", 200)]),
    "auth.logout": (None, lambda i, w: [Probe("auth.logout", "POST", "/logout", 302, "/login")]),  # run last
    "assets": (None, lambda i, w: [
        Probe("assets", "GET", "/assets/bootstrap/css/bootstrap.min.css", 200, mimetype="text/css"),
        Probe("assets", "GET", "/assets/nodejs/etc/passwd", 404)]),
    "admin.static": (None, lambda i, w: [
        Probe("admin.static", "GET", "/admin/static/admin/css/bootstrap4/admin.css", 200, mimetype="text/css")]),
    **RECEIVABLES_SITE,
}


# ---- admin grids: view function -> what a reader of the grid gets (non-readers: 403, anonymous: sign-in) ------

GET_POST = ("GET", "POST")


def _form_or_back(view, change, identity):
    """Writers get the form (200; an empty POST re-renders it with errors); others are sent back to the list."""
    return 200 if writes(identity, view.endpoint, change) else 302


def _deletes(view, ep, identity, w):
    target = DISPOSABLE[view.endpoint](w)
    removes = writes(identity, view.endpoint, "delete")
    data = {"id": target.id} if ep.endswith(".delete_view") else {"action": "delete", "rowid": target.id}
    gone = (type(target).__table__, target.id) if removes else None
    return [Probe(ep, "POST", url_for(ep), 302, data=data, gone=gone)]


def _instance_action(fn):
    """A missing instance (nothing changes) and the world's real one."""
    def probes(view, endpoint, i, w):
        missing = Probe(endpoint, "POST", url_for(endpoint, instance_id=999_999),
                        302 if writes(i, view.endpoint) else 403)
        return [missing, *_real_instance_probe(view, endpoint, fn, i, w)]
    return probes


def _real_instance_probe(view, endpoint, fn, i, w) -> list[Probe]:
    """The world's running instance: read-only roles get 403; operators' retry (no incident) and migrate
    (already the newest version) are refused with a message on the instance page; a cancel would change it."""
    url = url_for(endpoint, instance_id=w.task.instance_id)
    if not writes(i, view.endpoint):
        return [Probe(endpoint, "POST", url, 403)]
    details = urlsplit(url_for(f"{view.endpoint}.details_view", id=w.task.instance_id)).path
    return [] if fn == "cancel" else [Probe(endpoint, "POST", url, 302, details)]


ADMIN_FUNCS = {
    "index": lambda v, ep, i, w: [Probe(ep, "GET", url_for(ep), 200)],
    "index_view": lambda v, ep, i, w: [Probe(ep, "GET", url_for(ep), 200)],
    # A reader limited to its own customers does not find another customer's row: the grid sends it back to the list.
    "details_view": lambda v, ep, i, w: [Probe(ep, "GET", url_for(ep, id=w.rows[v.endpoint]),
                                               200 if finds_row(i, v.endpoint) else 302)],
    "export": lambda v, ep, i, w: [Probe(ep, "GET", url_for(ep, export_type=kind), status, mimetype=mimetype)
                                   for kind, status, mimetype in (("csv", 200, "text/csv"), ("xlsx", 200, XLSX),
                                                                  ("json", 302, None))],
    "download": lambda v, ep, i, w: [Probe(ep, "GET", url_for(ep, file_id=w.files[v.endpoint][0]), 200,
                                           body=w.files[v.endpoint][1])],
    "ajax_lookup": lambda v, ep, i, w: [Probe(ep, "GET", url_for(ep, name="x", query="a"), 404)],  # no ajax fields
    "ajax_update": lambda v, ep, i, w: [Probe(ep, "POST", url_for(ep), 404)],  # no editable list columns
    "create_view": lambda v, ep, i, w: [Probe(ep, m, url_for(ep), _form_or_back(v, "create", i))
                                        for m in GET_POST],
    "edit_view": lambda v, ep, i, w: [Probe(ep, m, url_for(ep, id=w.rows[v.endpoint]),
                                            _form_or_back(v, "edit", i)) for m in GET_POST],
    "delete_view": _deletes,
    "action_view": _deletes,
    "editor": lambda v, ep, i, w: [Probe(ep, "GET", url_for(ep), 200)],
    "xml": lambda v, ep, i, w: [Probe(ep, "GET", url_for(ep, definition_id=w.task.instance.definition_id), 200,
                                      mimetype="application/xml")],
    "validate": lambda v, ep, i, w: [Probe(ep, "POST", url_for(ep), 200, data={"xml": "<not-bpmn/>"})],
    "deploy": lambda v, ep, i, w: [Probe(ep, "POST", url_for(ep), 400 if writes(i, v.endpoint) else 403,
                                         data={"xml": "<not-bpmn/>"})],  # invalid: writers get the problems
    **{fn: _instance_action(fn) for fn in ("retry", "cancel", "migrate")},
}


def admin_views(app) -> dict:
    """Admin view endpoint -> the view, for every Admin of the app."""
    return {view.endpoint: view for admin in app.extensions["admin"] for view in admin._views}


def _admin_probes(view, fn, identity, w) -> list[Probe]:
    probes = []
    for probe in ADMIN_FUNCS[fn](view, f"{view.endpoint}.{fn}", identity, w):
        if probe.status == 302 and probe.location is None:  # Flask-Admin sends refused requests back to the list
            probe.location = url_for(f"{view.endpoint}.index_view")
        if identity == ANON:
            probe = replace(probe, status=302, location=LOGIN, gone=None, body=None, mimetype=None)
        elif not reads(identity, view.endpoint):
            probe = replace(probe, status=403, location=None, gone=None, body=None, mimetype=None)
        probes.append(probe)
    return probes


def classify(app, endpoint: str):
    """A function (identity, world) -> probes for the endpoint, or None if the matrix does not know it."""
    if endpoint in SITE:
        return SITE[endpoint][1]
    view_endpoint, _, fn = endpoint.rpartition(".")
    view = admin_views(app).get(view_endpoint)
    if view is None or fn not in ADMIN_FUNCS or not any(view_endpoint in g.views for g in GRIDS):
        return None
    return lambda i, w: _admin_probes(view, fn, i, w)


def routes(app) -> set[tuple[str, str]]:
    """Every (endpoint, method) the app answers, less HEAD and OPTIONS."""
    return {(r.endpoint, m) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}


def all_probes(app, identity, w) -> list[Probe]:
    """The identity's probes of every route, signing out last."""
    with app.test_request_context():
        probes = [p for endpoint in sorted({e for e, _ in routes(app)}) for p in classify(app, endpoint)(identity, w)]
    return sorted(probes, key=lambda p: p.endpoint == "auth.logout")  # signing out last


def sign_in(app, client, identity, w):
    """Sign the identity in (or not); return the user and a CSRF token from a page it may open."""
    if identity == ANON:
        return None, page_csrf(client, "/login")
    user = factories.make_user(identity, customer=w.own_customer if identity == "customer" else None)
    login_as(app, client, user)
    return user, page_csrf(client, "/portal/" if identity == "customer" else "/dashboard")


# ---- tests ---------------------------------------------------------------------------------------------------

def test_every_route_is_in_the_matrix(app):
    """A new route fails here until SITE or ADMIN_FUNCS says who may open it."""
    unknown = sorted(e for e, _ in routes(app) if classify(app, e) is None)
    assert not unknown, f"routes missing from the access matrix: {unknown}"


def test_site_views_declare_the_permission_the_matrix_expects(app):
    for endpoint, (permission, _) in SITE.items():
        if endpoint == "admin.static":  # Flask-Admin's own static files
            continue
        view = app.view_functions[endpoint]
        assert hasattr(view, "required_permission"), f"{endpoint} is neither @require(...) nor @public"
        assert view.required_permission == permission, endpoint
        assert permission is None or permission in PERMISSIONS


@pytest.mark.no_db
def test_the_written_out_roles_are_the_role_catalog():
    assert set(MAY) == {ANON, *ROLE_CATALOG}


@pytest.mark.no_db
@pytest.mark.parametrize("role", list(ROLE_CATALOG))
def test_permissions_grant_each_role_what_the_matrix_says(role):
    """A wrong entry in PERMISSIONS or in MAY fails here, naming the role and the permission."""
    granted = {permission for permission, roles in PERMISSIONS.items() if role in roles}
    problems = [f"PERMISSIONS gives {role} {p!r}, the matrix says it may not" for p in sorted(granted - MAY[role])]
    problems += [f"the matrix says {role} may {p!r}, PERMISSIONS does not give it" for p in sorted(MAY[role] - granted)]
    assert not problems, "\n".join(problems)


@pytest.mark.no_db
def test_grids_declare_the_permissions_the_matrix_expects(app):
    """Each admin view is in GRIDS once, with the read/write permission and the create/edit/delete it declares."""
    views, problems = admin_views(app), []
    listed = [endpoint for g in GRIDS for endpoint in g.views]
    problems += [f"{e}: in GRIDS but no such admin view" for e in sorted(set(listed) - set(views))]
    for endpoint, view in sorted(views.items()):
        if listed.count(endpoint) != 1:
            problems.append(f"{endpoint}: listed {listed.count(endpoint)} times in GRIDS")
            continue
        entry = grid(endpoint)
        allows = {c for c in ("create", "edit", "delete") if getattr(view, f"{c}_allowed", False)}
        declared = {"read": view.read_permission, "write": view.write_permission if entry.write else None,
                    "allows": allows}
        expected = {"read": entry.read, "write": entry.write, "allows": set(entry.views[endpoint].split())}
        problems += [f"{endpoint}: {k} is {declared[k]!r}, the matrix expects {expected[k]!r}"
                     for k in declared if declared[k] != expected[k]]
    assert not problems, "\n".join(problems)


@pytest.mark.no_db
def test_grid_readers_and_writers_match_the_role_table():
    """GRIDS names its readers and writers; they must be the roles MAY gives the grid's permissions."""
    problems = []
    for entry in GRIDS:
        for who, permission, roles in (("read", entry.read, entry.readers), ("change", entry.write, entry.writers)):
            holders = {role for role in ROLE_CATALOG if permission in MAY[role]} if permission else set()
            problems += [f"{', '.join(entry.views)}: MAY lets {role} {who} ({permission}), GRIDS does not"
                         for role in sorted(holders - roles)]
            problems += [f"{', '.join(entry.views)}: GRIDS lets {role} {who}, MAY lacks {permission}"
                         for role in sorted(roles - holders)]
    assert not problems, "\n".join(problems)


def test_every_permission_is_relied_on_by_some_probe(app, world):
    """A new permission fails here until a probe's expectation depends on it (and MAY says who holds it)."""
    RELIED_ON.clear()
    for identity in IDENTITIES:
        all_probes(app, identity, world)
    assert not set(PERMISSIONS) - RELIED_ON, f"no probe depends on {sorted(set(PERMISSIONS) - RELIED_ON)}"


@pytest.mark.parametrize("identity", IDENTITIES)
def test_access_matrix(app, client, world, identity):
    _, token = sign_in(app, client, identity, world)
    probes = all_probes(app, identity, world)
    missing = routes(app) - {(p.endpoint, p.method) for p in probes}
    assert not missing, f"routes the matrix does not exercise: {sorted(missing)}"
    failures = [error for probe in probes for error in check(client, probe, token)]
    assert not failures, f"{identity}:\n  " + "\n  ".join(failures)


@pytest.mark.parametrize("identity", ["admin", "guest", "customer"])
def test_inactive_user_is_treated_as_anonymous(app, client, world, identity):
    user, token = sign_in(app, client, identity, world)
    user.active = False
    db.session.flush()
    probes = [p for p in all_probes(app, ANON, world) if p.method == "GET" and p.location == LOGIN]
    assert {"main.dashboard", "customers.index_view", "customer_portal.home"} <= {p.endpoint for p in probes}
    failures = [error for probe in probes for error in check(client, probe, token)]
    assert not failures, "\n".join(failures)


def test_customer_cannot_open_admin_pages_or_dashboard(app, client, world):
    sign_in(app, client, "customer", world)
    probes = [p for p in all_probes(app, "customer", world)
              if p.method == "GET" and (p.url.startswith("/admin") and p.endpoint != "admin.static")]
    assert len({p.endpoint for p in probes}) > 40  # every grid's pages, not a lucky few
    for url in [p.url for p in probes] + ["/dashboard"]:
        response = client.get(url)
        assert response.status_code == 403, url


def test_customer_sees_only_its_own_contracts(app, client, world):
    sign_in(app, client, "customer", world)
    own, other = world.own_contract, world.other_contract
    home = client.get("/portal/").get_data(as_text=True)
    assert own.number in home and other.number not in home
    assert own.number in client.get(f"/portal/contracts/{own.id}").get_data(as_text=True)
    response = client.get(f"/portal/contracts/{other.id}")
    assert response.status_code == 404 and other.number not in response.get_data(as_text=True)


# ---- the admin may delete (writers writing for real: test_admin_writes.py) -----------------------------------

@pytest.mark.parametrize("fn", ["delete_view", "action_view"])
def test_admin_can_delete_a_user(app, client, world, fn):
    _, token = sign_in(app, client, "admin", world)
    probes = [p for p in all_probes(app, "admin", world) if p.endpoint == f"users.{fn}"]
    assert probes and all(p.gone for p in probes)
    assert [error for probe in probes for error in check(client, probe, token)] == []
