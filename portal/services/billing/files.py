"""Stored files: versioned document templates and project attachments kept in the database."""

from __future__ import annotations

import hashlib
import mimetypes

from sqlalchemy import func, select

from portal.errors import ValidationError
from portal.extensions import db
from portal.infra.lookup import get_or_not_found
from portal.models import DocumentTemplate, Project, ProjectDocument
from portal.models.documents import TEMPLATE_KINDS

MAX_FILE_BYTES = 10 * 1024 * 1024


def upload_template(name: str, kind: str, filename: str, content: bytes, uploaded_by: str) -> DocumentTemplate:
    """Store a new version of the named template (versions count up from 1 per name)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("name", "is required")
    if kind not in TEMPLATE_KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(TEMPLATE_KINDS)}")
    _check_file(filename, content)
    latest = db.session.scalar(select(func.max(DocumentTemplate.version)).where(DocumentTemplate.name == name))
    template = DocumentTemplate(name=name, kind=kind, version=(latest or 0) + 1, uploaded_by=uploaded_by)
    fill(template, filename, content)
    db.session.add(template)
    db.session.flush()
    return template


def attach_project_document(project: Project, filename: str, content: bytes, uploaded_by: str) -> ProjectDocument:
    """Attach a file to a project."""
    _check_file(filename, content)
    document = ProjectDocument(project=project, uploaded_by=uploaded_by)
    fill(document, filename, content)
    db.session.add(document)
    db.session.flush()
    return document


def get_file(model, file_id: int):
    """A stored template or project document by id, with its content loaded."""
    return get_or_not_found(model, file_id, model.__name__)


def _check_file(filename: str, content: bytes) -> None:
    if not filename:
        raise ValidationError("file", "choose a file to upload")
    if not content:
        raise ValidationError("file", f"{filename} is empty")
    if len(content) > MAX_FILE_BYTES:
        raise ValidationError("file", f"{filename} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")


def fill(stored, filename: str, content: bytes) -> None:
    """Put a file's name, type, size, hash and bytes on a stored-file row."""
    stored.filename = filename.replace("/", "_").replace("\\", "_")
    stored.content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    stored.size = len(content)
    stored.sha256 = hashlib.sha256(content).hexdigest()
    stored.content = content
