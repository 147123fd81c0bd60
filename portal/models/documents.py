"""Versioned document templates (proforma, invoice and credit note layouts, e-mails, ...), stored in the database."""

from __future__ import annotations

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import StoredFile

# The newest template of a kind replaces the shipped layout: invoice_pdf for invoices and due notes, credit_note_pdf
# for credit notes (portal.services.receivables.rendering), the proforma kinds for proformas.
TEMPLATE_KINDS = ("proforma_pdf", "proforma_html", "invoice_pdf", "credit_note_pdf", "email", "other")


class DocumentTemplate(StoredFile, db.Model):
    __tablename__ = "document_templates"
    __audited__ = True
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(Integer)

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"
