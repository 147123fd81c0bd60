"""Stored files in the admin: versioned document templates and project documents (upload, download)."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import DocumentTemplate, ProjectDocument
from portal.services.billing import files
from tests.support import factories as f
from tests.support.rows import count
from tests.support.web import login_as, page_text, post_form, upload

# ---------------------------------------------------------------- 5. stored files

TEMPLATE = {"name": "Proforma", "kind": "proforma_html"}


def test_template_uploaded_twice_gets_versions_and_downloads_exact_bytes(client, admin):
    for content in (b"<h1>one</h1>", b"<h1>two</h1>\x00\xff"):
        assert upload(client, "/admin/document_templates/new/", TEMPLATE, content, "p.html").status_code == 302
    versions = db.session.scalars(select(DocumentTemplate).order_by(DocumentTemplate.version)).all()
    assert [(t.name, t.version) for t in versions] == [("Proforma", 1), ("Proforma", 2)]
    response = client.get(f"/admin/document_templates/download/{versions[1].id}")
    assert response.status_code == 200 and response.data == b"<h1>two</h1>\x00\xff"


def test_template_upload_without_file_names_file_and_saves_nothing(client, admin):
    response = upload(client, "/admin/document_templates/new/", TEMPLATE, None, "")
    assert "File: choose a file to upload" in page_text(response)
    assert count(DocumentTemplate) == 0


def test_template_download_returns_stored_bytes(client, admin):
    stored = files.upload_template("Layout", "proforma_pdf", "layout.pdf", b"%PDF-1.7\x00\x01", "seed")
    db.session.commit()
    response = client.get(f"/admin/document_templates/download/{stored.id}")
    assert response.status_code == 200 and response.data == b"%PDF-1.7\x00\x01"
    assert response.mimetype == "application/pdf"


def test_templates_cannot_be_edited(client, admin):
    stored = files.upload_template("Layout", "proforma_html", "layout.html", b"<p>x</p>", "seed")
    db.session.commit()
    assert client.get(f"/admin/document_templates/edit/?id={stored.id}").status_code == 302
    post_form(client, f"/admin/document_templates/edit/?id={stored.id}", {"name": "Changed", "kind": "other"})
    db.session.expire_all()
    assert db.session.get(DocumentTemplate, stored.id).name == "Layout"
    assert "/admin/document_templates/edit/" not in client.get("/admin/document_templates/").get_data(as_text=True)


def test_project_document_upload_and_download(client, admin):
    project = f.ProjectFactory()
    db.session.commit()
    response = upload(client, "/admin/project_documents/new/", {"project": str(project.id)}, b"%PDF sow", "sow.pdf")
    assert response.status_code == 302
    document = db.session.scalar(select(ProjectDocument).where(ProjectDocument.project_id == project.id))
    assert document.filename == "sow.pdf" and document.uploaded_by == admin.email
    assert client.get(f"/admin/project_documents/download/{document.id}").data == b"%PDF sow"


def test_project_document_download_returns_stored_bytes(client, admin):
    document = files.attach_project_document(f.ProjectFactory(), "sow.pdf", b"%PDF-1.4 sow", "seed")
    db.session.commit()
    response = client.get(f"/admin/project_documents/download/{document.id}")
    assert response.status_code == 200 and response.data == b"%PDF-1.4 sow"


def test_download_names_with_quotes_and_non_ascii_cannot_break_the_header(app, client, make_user):
    from portal.services.billing import files

    template = files.upload_template("Odd", "other", 'счёт "final".html', b"<p>x</p>", "test")
    login_as(app, client, make_user("admin"))
    response = client.get(f"/admin/document_templates/download/{template.id}")
    assert response.status_code == 200 and response.data == b"<p>x</p>"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert '"final"' not in disposition.split("filename*=")[0]
