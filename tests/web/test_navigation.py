"""Navigation: the navbar (portal.web.nav.navigation, templates/base.html) offers each role exactly what it may open."""

from __future__ import annotations

import re

import pytest

from portal.models.user import ROLE_CATALOG
from portal.security import PERMISSIONS
from tests.support.web import csrf_from, login_as

GRID_LINK = re.compile(r"/admin/(\w+)/")
MASTER_DATA = {"Customers", "Contracts", "Projects", "Fixed line items", "Rate cards"}
ADMINISTRATION = {"Users", "Roles", "Audit trail"}


def holds(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]


def grids(app) -> dict:
    """Every admin page in the menu (grids and the process diagrams; not the admin index): endpoint -> view."""
    return {v.endpoint: v for admin in app.extensions["admin"] for v in admin._views
            if hasattr(v, "read_permission") and v.is_visible()}


def home_of(role: str) -> str:
    return "/portal/" if role == "customer" else "/dashboard"


def navbar(html: str) -> str:
    match = re.search(r"<nav\b.*?</nav>", html, re.S)
    assert match, "page has no navbar"
    return match.group(0)


def links(fragment: str) -> list[tuple[str, str]]:
    """(href, visible text) of every link in the fragment."""
    return [(href, " ".join(re.sub(r"<[^>]+>", " ", text).split()))
            for href, text in re.findall(r'<a\b[^>]*\bhref="([^"]*)"[^>]*>(.*?)</a>', fragment, re.S)]


def grid_links(fragment: str) -> dict[str, str]:
    return {href: text for href, text in links(fragment) if GRID_LINK.fullmatch(href)}


def sign_out_form(fragment: str) -> tuple:
    """(method, action, hidden input names, button text) of the one form posting to /logout."""
    forms = [(attrs, body) for attrs, body in re.findall(r"<form\b([^>]*)>(.*?)</form>", fragment, re.S)
             if 'action="/logout"' in attrs]
    assert len(forms) == 1, f"expected one sign-out form, found {len(forms)}"
    attrs, body = forms[0]
    method = re.search(r'method="(\w+)"', attrs).group(1).lower()
    hidden = sorted(re.findall(r'<input\b[^>]*type="hidden"[^>]*>', body))
    names = sorted(re.search(r'name="([^"]+)"', tag).group(1) for tag in hidden)
    button = " ".join(re.sub(r"<[^>]+>", " ", re.search(r"<button\b[^>]*>(.*?)</button>", body, re.S).group(1)).split())
    return method, "/logout", names, button


@pytest.fixture
def signed_in(app, client, make_user):
    def sign_in(role: str):
        login_as(app, client, make_user(role))
        response = client.get(home_of(role))
        assert response.status_code == 200, f"{role} cannot open {home_of(role)}"
        return response.get_data(as_text=True)

    return sign_in


@pytest.mark.parametrize("role", list(ROLE_CATALOG))
def test_navbar_shows_exactly_the_grids_the_role_may_read(app, client, signed_in, role):
    nav = navbar(signed_in(role))
    shown = grid_links(nav)
    for href, label in shown.items():
        view = grids(app).get(GRID_LINK.fullmatch(href).group(1))
        assert view is not None, f"navbar links {href}, which is no grid"
        assert holds(role, view.read_permission), f"{role} is offered {label} without {view.read_permission}"
        assert label == view.name
    readable = {f"/admin/{ep}/": v.name for ep, v in grids(app).items() if holds(role, v.read_permission)}
    assert shown == readable, f"{role}: navbar grids differ from the grids it may read"


@pytest.mark.parametrize("role", list(ROLE_CATALOG))
def test_navbar_site_pages_and_every_link_opens(app, client, signed_in, role):
    nav = navbar(signed_in(role))
    site = {text: href for href, text in links(nav) if not GRID_LINK.fullmatch(href) and href not in ("/", "#")}
    expected = {label: url for label, url, perm in (("Dashboard", "/dashboard", "dashboard.view"),
                                                    ("Proformas", "/proformas/", "proformas.view"),
                                                    ("Receivables", "/receivables/documents", "receivables.read"),
                                                    ("Tasks", "/tasks/", "tasks.view"),
                                                    ("My company", "/portal/", "portal.view")) if holds(role, perm)}
    assert site == expected
    for href, text in links(nav):
        if href != "#":
            status = client.get(href).status_code
            assert status == (302 if href == "/" else 200), f"{role}: navbar link {text} -> {href} gives {status}"


@pytest.mark.parametrize("role", sorted(set(ROLE_CATALOG) - {"customer"}))
def test_admin_index_lists_the_same_grids_as_the_navbar(app, client, signed_in, role):
    nav_grids = grid_links(navbar(signed_in(role)))
    page = client.get("/admin/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    main = body.split("</nav>", 1)[1]
    assert grid_links(main) == nav_grids


def test_customer_sees_my_company_and_no_admin_links(client, signed_in):
    nav = navbar(signed_in("customer"))
    assert ("/portal/", "My company") in links(nav)
    assert not [href for href, _ in links(nav) if href.startswith("/admin")]
    assert "/dashboard" not in [href for href, _ in links(nav)]
    assert "Master data" not in nav and "Administration" not in nav


def test_guest_sees_master_data_grids_but_not_users_or_audit(client, signed_in):
    nav = navbar(signed_in("guest"))
    labels = set(grid_links(nav).values())
    assert labels >= MASTER_DATA
    assert not labels & ADMINISTRATION
    assert "Master data" in nav and "Administration" not in nav


def test_admin_sees_users_roles_and_audit_trail(app, client, signed_in):
    nav = navbar(signed_in("admin"))
    labels = set(grid_links(nav).values())
    assert labels >= ADMINISTRATION | MASTER_DATA
    assert len(labels) == len(grids(app)) == 25  # 14 and the 11 receivables grids
    assert "Administration" in nav and "Processes" in nav


def test_analyst_sees_rates_templates_and_processes_only(client, signed_in):
    labels = set(grid_links(navbar(signed_in("analyst"))).values())
    assert labels == {"Exchange rates", "Document templates", "Diagrams", "Instances", "Incidents"}


@pytest.mark.parametrize(("role", "offered"), [("guest", True), ("reviewer", True), ("analyst", False),
                                               ("customer", False)])
def test_proformas_are_offered_to_staff_who_work_with_them(client, signed_in, role, offered):
    assert (("/proformas/", "Proformas") in links(navbar(signed_in(role)))) is offered


def test_signed_out_pages_have_no_navigation(client):
    nav = navbar(client.get("/login").get_data(as_text=True))
    assert [href for href, _ in links(nav)] == ["/"]
    assert "/logout" not in nav


@pytest.mark.parametrize("role", ["admin", "accountant", "guest"])
def test_admin_pages_carry_the_same_sign_out_form_and_a_dashboard_link(app, client, signed_in, role):
    site_nav = navbar(signed_in(role))
    page = client.get("/admin/customers/")
    assert page.status_code == 200
    admin_nav = navbar(page.get_data(as_text=True))
    assert ("/dashboard", "Dashboard") in links(admin_nav)
    assert sign_out_form(admin_nav) == sign_out_form(site_nav) == ("post", "/logout", ["csrf_token"], "Sign out")
    assert grid_links(admin_nav) == grid_links(site_nav)  # the admin's own menu obeys the same permissions
    # the admin page's form really signs out
    response = client.post("/logout", data={"csrf_token": csrf_from(admin_nav)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert client.get("/dashboard").headers.get("Location", "").startswith("/login")
