"""Proforma review inside the review task: change, add and remove lines."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user

from portal.edge import run_and_flash
from portal.services.billing import proforma_review
from portal.services.workflow import tasks
from portal.web.access import require

bp = Blueprint("proforma_review", __name__, url_prefix="/tasks/<int:task_id>/proforma")


@bp.post("/lines/<int:line_id>")
@require("tasks.view")
def change_line(task_id: int, line_id: int):
    return _edit(task_id, lambda: proforma_review.change_line(task_id, current_user, line_id, request.form),
                 "The line is changed.")


@bp.post("/lines/<int:line_id>/delete")
@require("tasks.view")
def remove_line(task_id: int, line_id: int):
    return _edit(task_id, lambda: proforma_review.remove_line(task_id, current_user, line_id), "The line is removed.")


@bp.post("/lines/new")
@require("tasks.view")
def add_line(task_id: int):
    return _edit(task_id, lambda: proforma_review.add_line(task_id, current_user, request.form), "The line is added.")


def _edit(task_id: int, use_case, message: str):
    tasks.visible(task_id, current_user)  # 404 for people who may not see the task
    run_and_flash(use_case, message)
    return redirect(url_for("tasks.detail", task_id=task_id) + "#proforma")
