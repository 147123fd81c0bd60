"""Templates hold no inline script (the CSP forbids it), and the shared form and variables macros render right."""

from __future__ import annotations

import re

import pytest
from werkzeug.datastructures import MultiDict

from tests.support.paths import ROOT

TEMPLATES = ROOT / "templates"
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
# An attribute such as onclick= inside a tag; Jinja's {% %} and {{ }} may sit in the tag, hence [^<>]*.
HANDLER = re.compile(r"<[a-z][^<>]*\son[a-z]+\s*=", re.I)


def template_files() -> list:
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.no_db
@pytest.mark.parametrize("path", template_files(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_runs_inline_script(path):
    html = path.read_text()
    for attributes in SCRIPT_TAG.findall(html):
        assert "src=" in attributes or 'type="application/json"' in attributes, f"inline <script{attributes}>"
    assert not HANDLER.search(html), f"inline event handler: {HANDLER.search(html).group(0)}"


@pytest.mark.no_db
def test_the_scan_finds_what_it_forbids():
    assert SCRIPT_TAG.findall('<script>alert(1)</script>') == [""]
    assert HANDLER.search('<form action="{{ url }}" onsubmit="return confirm(1)">')
    assert not HANDLER.search('<p>Click one = done</p><button data-confirm="x">')


def test_the_csp_allows_no_inline_script(client):
    policy = client.get("/login").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"


def test_every_portal_script_a_template_names_is_served(client):
    names = {name for path in template_files()
             for name in re.findall(r"package='portal', filename='([^']+)'", path.read_text())}
    assert {"ledgerflow.js", "admin.js", "bpmn-editor.js", "bpmn-instance.js"} <= names
    for name in names:
        response = client.get(f"/assets/portal/{name}")
        assert response.status_code == 200 and response.mimetype == "text/javascript", name
    assert client.get("/assets/portal/../web/__init__.py").status_code == 404
    assert client.get("/assets/htmx/htmx.min.js").status_code == 404


@pytest.mark.no_db
def test_flask_admin_overrides_follow_the_pinned_version():
    pin = re.search(r"^Flask-Admin==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    overrides = [p for p in (TEMPLATES / "admin").rglob("*.html") if "Flask-Admin " in p.read_text()[:80]]
    # actions.html, lib.html and model/{layout,row_actions,inline_list_base}.html: for the CSP and Bootstrap 5
    assert len(overrides) == 5
    for path in overrides:
        assert path.read_text().startswith(f"{{# Flask-Admin {pin}'s bootstrap4 template"), path


# ---------------------------------------------------------------- the task form's fields (templates/_forms.html)

def task_field(app, field: dict, posted=None, message=None) -> str:
    field = {"default": None, "validation": {}, "options": [], "label": field["id"].title()} | field
    with app.test_request_context():
        return str(app.jinja_env.get_template("_forms.html").module.task_field(field, posted, message))


def squeeze(html: str) -> str:
    return " ".join(html.split())


@pytest.mark.no_db
def test_each_field_type_gets_its_control(app):
    assert 'type="number"' in task_field(app, {"id": "pages", "type": "long"})
    assert 'type="date"' in task_field(app, {"id": "due", "type": "date", "default": "2026-12-01"})
    assert 'value="2026-12-01"' in task_field(app, {"id": "due", "type": "date", "default": "2026-12-01"})
    amount = task_field(app, {"id": "amount", "type": "money"})
    assert 'type="text"' in amount and 'inputmode="decimal"' in amount
    assert 'inputmode' not in task_field(app, {"id": "remark", "type": "string"})
    enum = squeeze(task_field(app, {"id": "kind", "type": "enum", "default": "b",
                                    "options": [{"id": "a", "name": "Alpha"}, {"id": "b", "name": "Beta"}]}))
    assert '<select class="form-select" id="f-kind" name="kind">' in enum
    assert '<option value="b" selected>Beta</option>' in enum and '<option value="a">Alpha</option>' in enum
    box = task_field(app, {"id": "urgent", "type": "boolean", "default": "true"})
    assert 'type="checkbox" id="f-urgent" name="urgent" value="true" checked' in box


@pytest.mark.no_db
def test_required_and_readonly_fields(app):
    required = task_field(app, {"id": "hours", "type": "long", "validation": {"required": None}})
    assert " required" in required and '<span class="text-danger">*</span>' in required
    readonly = task_field(app, {"id": "ref", "type": "string", "default": "R-1", "validation": {"readonly": None}})
    assert 'name="ref" value="R-1"' in readonly and " readonly" in readonly
    # a disabled control posts nothing, so a hidden input carries the value
    enum = task_field(app, {"id": "kind", "type": "enum", "default": "a", "validation": {"readonly": None},
                            "options": [{"id": "a", "name": "Alpha"}]})
    assert " disabled" in enum and '<input type="hidden" name="kind" value="a">' in enum
    assert 'name="kind"' not in enum.split("<select")[1].split(">")[0]
    box = task_field(app, {"id": "urgent", "type": "boolean", "default": "true", "validation": {"readonly": None}})
    assert " disabled" in box and '<input type="hidden" name="urgent" value="true">' in box


@pytest.mark.no_db
def test_after_an_error_the_field_shows_what_was_sent_and_why(app):
    field = {"id": "pages", "type": "long", "default": "1"}
    html = task_field(app, field, MultiDict({"pages": "many"}), "is not a whole number")
    assert 'class="form-control is-invalid" id="f-pages"' in html and 'value="many"' in html
    assert 'aria-describedby="e-pages"' in html and 'id="e-pages">is not a whole number</div>' in html
    assert "is-invalid" not in task_field(app, field, MultiDict({"pages": "2"}))
    unticked = task_field(app, {"id": "urgent", "type": "boolean", "default": "true"}, MultiDict({}))
    assert 'value="true">' in unticked and "checked" not in unticked


@pytest.mark.no_db
def test_the_variables_table_shows_labels_with_the_name_on_hover_and_says_when_empty(app):
    with app.test_request_context():
        table = app.jinja_env.get_template("_variables.html").module.variables_table
        filled = str(table([{"label": "A", "name": "a", "value": "<x>"}, {"label": "B", "name": "b", "value": 2}],
                           id="case-data"))
        empty = str(table([], empty="No data yet."))
    assert filled.index('title="a">A</th>') < filled.index('title="b">B</th>') and "&lt;x&gt;" in filled
    assert 'id="case-data"' in filled and 'id="variables"' in empty and "No data yet." in empty
