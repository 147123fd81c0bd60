"""Grids for stored files: versioned document templates and project attachments (upload, download)."""

from __future__ import annotations

import io

from flask import send_file, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.fields import QuerySelectField
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select
from wtforms import FileField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from admin.base import AdminForm, SecuredModelView
from admin.masterdata import choices
from portal.extensions import db
from portal.models import DocumentTemplate, Project, ProjectDocument
from portal.models.documents import TEMPLATE_KINDS
from portal.services.billing import files


class TemplateUploadForm(AdminForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)],
                       description="Uploading under an existing name adds a new version.")
    kind = SelectField("Kind", choices=choices(TEMPLATE_KINDS))
    file = FileField("File")


class ProjectDocumentForm(AdminForm):
    project = QuerySelectField("Project", allow_blank=False,
                               query_factory=lambda: db.session.scalars(select(Project).order_by(Project.code)))
    file = FileField("File")


def _uploaded(form):
    upload = form.file.data
    if not upload or not getattr(upload, "filename", ""):
        return "", b""
    return upload.filename, upload.read()


def _download_link(view, context, model, name):
    url = url_for(f"{view.endpoint}.download", file_id=model.id)
    return Markup(f'<a href="{escape(url)}">{escape(model.filename)}</a>')  # noqa: S704 - parts escaped


def _send(stored):
    # send_file encodes the name for the header (quotes, non-ASCII), so no filename can break it.
    return send_file(io.BytesIO(stored.content), mimetype=stored.content_type, as_attachment=True,
                     download_name=stored.filename)


class StoredFileView(SecuredModelView):
    """Stored files are immutable: upload a new one (or version) instead of editing."""

    edit_allowed = False
    column_formatters = {"filename": _download_link}
    column_exclude_list = column_details_exclude_list = ("content",)

    @expose("/download/<int:file_id>")
    def download(self, file_id: int):
        return _send(files.get_file(self.model, file_id))


class DocumentTemplateView(StoredFileView):
    read_permission = "templates.read"
    write_permission = "templates.write"
    form = TemplateUploadForm
    column_list = ("name", "version", "kind", "filename", "size", "uploaded_by", "uploaded_at")
    column_searchable_list = ("name", "filename", "uploaded_by")
    column_filters = ("name", "kind", "uploaded_by", "uploaded_at")
    column_default_sort = [("name", False), ("version", True)]

    def create_model(self, form):
        filename, content = _uploaded(form)
        return self.create_with(form, lambda: files.upload_template(
            form.name.data, form.kind.data, filename, content, current_user.email))


class ProjectDocumentView(StoredFileView):
    form = ProjectDocumentForm
    column_list = ("project", "filename", "size", "content_type", "uploaded_by", "uploaded_at")
    column_searchable_list = ("filename", "uploaded_by", "project.code")
    column_filters = ("project.code", "content_type", "uploaded_by", "uploaded_at")
    column_default_sort = ("uploaded_at", True)

    def create_model(self, form):
        filename, content = _uploaded(form)
        return self.create_with(form, lambda: files.attach_project_document(
            form.project.data, filename, content, current_user.email))


def register(admin) -> None:
    admin.add_view(DocumentTemplateView(DocumentTemplate, name="Document templates", endpoint="document_templates",
                                        category="Documents"))
    admin.add_view(ProjectDocumentView(ProjectDocument, name="Project documents", endpoint="project_documents",
                                       category="Documents"))
