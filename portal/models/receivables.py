"""Receivables: the gapless number sequences of the documents that post to a customer's account."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class DocumentSequence(db.Model):
    """The last number given to a kind of document (invoice, credit note, due note) in a year.

    Taken by an UPDATE inside the issuing transaction, whose row lock queues concurrent issues: a rolled-back issue
    gives its number back, so the numbers have no gaps and never repeat.
    """

    __tablename__ = "document_sequences"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
