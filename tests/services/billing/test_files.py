"""Stored files, pinned to exact outcomes (found by the mutation run): the refusals and their messages, the size
limit as a boundary, versions counted per name, the stored name, type, size and hash, a missing file named."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from portal.errors import NotFound, ValidationError
from portal.extensions import db
from portal.models import DocumentTemplate, ProjectDocument
from portal.services.billing import files
from tests.support import factories
from tests.support.rows import count

MIB = 1024 * 1024


def as_template(filename: str, content: bytes):
    return files.upload_template("Proforma", "proforma_html", filename, content, "alice@staff.example")


def as_project_document(filename: str, content: bytes):
    return files.attach_project_document(factories.ProjectFactory(), filename, content, "alice@staff.example")


STORES = pytest.mark.parametrize("store", [as_template, as_project_document], ids=["template", "project_document"])


def refusal(call) -> dict:
    with pytest.raises(ValidationError) as refused:
        call()
    return refused.value.errors


@pytest.mark.parametrize("name", ["", None, "   "])
def test_a_template_needs_a_name(app, name):
    assert refusal(lambda: files.upload_template(name, "other", "t.txt", b"t", "alice@staff.example")) == {
        "name": "is required"}
    assert count(DocumentTemplate) == 0


def test_a_template_kind_must_be_one_of_the_kinds(app):
    assert refusal(lambda: files.upload_template("Proforma", "pdf", "t.txt", b"t", "alice@staff.example")) == {
        "kind": "must be one of proforma_pdf, proforma_html, invoice_pdf, credit_note_pdf, email, other"}


@STORES
def test_an_upload_without_a_file_asks_for_one(app, store):
    assert refusal(lambda: store("", b"")) == {"file": "choose a file to upload"}


@STORES
def test_an_empty_file_is_refused_by_name(app, store):
    assert refusal(lambda: store("notes.txt", b"")) == {"file": "notes.txt is empty"}


@STORES
def test_a_file_of_exactly_the_limit_is_stored_and_one_byte_more_is_refused(app, store):
    assert files.MAX_FILE_BYTES == 10 * MIB
    assert store("limit.bin", b"x" * (10 * MIB)).size == 10 * MIB
    assert refusal(lambda: store("big.bin", b"x" * (10 * MIB + 1))) == {"file": "big.bin is larger than 10 MB"}


def test_versions_count_up_per_name(app):
    for name in ("Proforma", "Reminder", "Proforma"):
        files.upload_template(name, "other", "t.txt", b"t", "alice@staff.example")
    rows = db.session.execute(select(DocumentTemplate.name, DocumentTemplate.version).order_by(DocumentTemplate.id))
    assert [tuple(row) for row in rows] == [("Proforma", 1), ("Reminder", 1), ("Proforma", 2)]


@STORES
def test_the_stored_file_keeps_a_safe_name_its_type_size_hash_bytes_and_uploader(app, store):
    content = b"%PDF-1.7 signed"
    stored = store("../contracts\\2026/sow.pdf", content)
    db.session.expire_all()
    row = db.session.get(type(stored), stored.id)
    assert (row.filename, row.content_type, row.size, row.sha256, row.content, row.uploaded_by) == (
        ".._contracts_2026_sow.pdf", "application/pdf", len(content), hashlib.sha256(content).hexdigest(), content,
        "alice@staff.example")


@pytest.mark.parametrize("filename", ["export.ledgerflow-unknown", "README"])
def test_a_file_of_unknown_type_is_stored_as_octet_stream(app, filename):
    assert as_template(filename, b"data").content_type == "application/octet-stream"


@pytest.mark.parametrize("model", [DocumentTemplate, ProjectDocument])
def test_a_missing_file_is_named(app, model):
    with pytest.raises(NotFound) as missing:
        files.get_file(model, 424242)
    assert str(missing.value) == f"no {model.__name__} 424242"
