"""What every edge (site views, admin actions) does around a use case: one transaction, then a message."""

from __future__ import annotations

from flask import flash

from portal.errors import DomainError
from portal.extensions import db


def run_and_flash(use_case, success: str) -> DomainError | None:
    """Run the use case and commit, flashing `success`; on a domain error roll back, flash it, return it."""
    try:
        use_case()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return exc
    flash(success, "success")
    return None


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths, so a link or form cannot bounce users to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None
