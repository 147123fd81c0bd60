"""The task inbox (like Camunda Tasklist): my tasks, group queue, completed; claim, comment, complete."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.edge import field_label, run_and_flash, safe_next
from portal.errors import Conflict, ValidationError
from portal.infra.unit_of_work import unit_of_work
from portal.models.types import utcnow
from portal.security import can
from portal.services.billing import proforma_list, proforma_review, proforma_timeline, review_changes
from portal.services.workflow import definitions, inbox, steps, tasks
from portal.web.access import require
from portal.web.forms import EmptyForm

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


@bp.get("/", endpoint="inbox")
@require("tasks.view")
def inbox_page():
    view = request.args.get("view", "mine")
    if view not in inbox.VIEWS:
        abort(404)
    filters = inbox.Filters(request.args.get("process", ""), request.args.get("business_key", ""),
                            request.args.get("due", ""))
    page = inbox.tasks(current_user, view, filters, page=max(1, request.args.get("page", 1, type=int)))
    unfiltered = {view: page.total} if filters == inbox.Filters() else None  # this tab's count is known already
    return render_template("tasks/inbox.html", view=view, filters=filters, page=page, now=utcnow(),
                           counts=inbox.counts(current_user, unfiltered), processes=definitions.keys(),
                           form=EmptyForm(), filtered=filters != inbox.Filters(),
                           cases=proforma_list.summaries(task.instance_id for task in page.items))


TIMELINE_SHOWN = 200  # the newest entries on the task page; the case page shows more


@bp.get("/<int:task_id>", endpoint="detail")
@require("tasks.view")
def detail(task_id: int, error: ValidationError | None = None, confirm: str | None = None):
    task = tasks.visible(task_id, current_user)  # 404 for people who may not see it
    proforma = proforma_review.proforma_for(task)
    return render_template("tasks/detail.html", task=task, now=utcnow(), form=EmptyForm(), proforma=proforma,
                           error=error, confirm=confirm, comments=tasks.case_comments(task),
                           changes=review_changes.review_changes(proforma) if proforma else None,
                           may_edit=proforma is not None and proforma_review.may_edit(task, current_user),
                           refusal=tasks.refusal(task, current_user),
                           case_data=steps.case_data_of(task.instance),
                           timeline=_history(proforma, task),
                           managers=can(current_user, "tasks.manage"),
                           eligible=tasks.eligible_users(task) if task.state == "open" else [])


def _history(proforma, task) -> list:
    """The case's timeline without its comments, which the page shows in their own card."""
    entries = proforma_timeline.timeline(proforma, task.instance)
    return [entry for entry in entries if entry.kind != "comment"][:TIMELINE_SHOWN]


@bp.post("/<int:task_id>/claim")
@require("tasks.view")
def claim(task_id: int):
    return _act(task_id, lambda: tasks.claim(task_id, current_user), "You have claimed the task.")


@bp.post("/<int:task_id>/unclaim")
@require("tasks.view")
def unclaim(task_id: int):
    return _act(task_id, lambda: tasks.unclaim(task_id, current_user), "The task is back in the group queue.")


@bp.post("/<int:task_id>/reassign")
@require("tasks.view")
def reassign(task_id: int):
    email = request.form.get("assignee", "")
    return _act(task_id, lambda: tasks.reassign(task_id, current_user, email), f"Reassigned to {email}.")


@bp.post("/<int:task_id>/comment")
@require("tasks.view")
def comment(task_id: int):
    body = request.form.get("body", "")
    return _act(task_id, lambda: tasks.comment(task_id, current_user, body), "Comment added.")


@bp.post("/<int:task_id>/complete")
@require("tasks.view")
def complete(task_id: int):
    task = tasks.visible(task_id, current_user)
    version = request.form.get("version", type=int)
    outcome = request.form.get("outcome") or None
    try:
        if task.state == "open" and not task.assignee:
            return _claim_to_confirm(task_id, outcome, version)
        with unit_of_work():
            task = tasks.complete(task_id, current_user, request.form.to_dict(), expected_version=version,
                                  outcome=outcome)
    except ValidationError as exc:
        labels = _labels(task_id)
        for field, message in exc.errors.items():
            flash(f"{field_label(field, labels)}: {message}", "danger")
        return detail(task_id, error=exc), 400
    except Conflict as exc:
        flash(str(exc), "warning")
        return detail(task_id), 409
    flash(f"Done: {task.name}{f' ({outcome})' if outcome else ''}.", "success")
    return redirect(url_for("tasks.inbox"))


def _claim_to_confirm(task_id: int, outcome: str | None, version: int | None):
    """Completing needs the task claimed: check the values, claim it (four-eyes refuses here too), ask once more."""
    with unit_of_work():
        tasks.claim_to_complete(task_id, current_user, request.form.to_dict(), outcome, expected_version=version)
    action = f"“{outcome.capitalize()}”" if outcome else "“Complete”"
    flash(f"You have claimed the task. Check the values and press {action} again to complete it.", "info")
    return detail(task_id, confirm=outcome or "complete")


def _act(task_id: int, use_case, message: str):
    tasks.visible(task_id, current_user)
    run_and_flash(use_case, message)
    return redirect(safe_next(request.form.get("next")) or url_for("tasks.detail", task_id=task_id))


def _labels(task_id: int) -> dict[str, str]:
    """Field id -> label of the task's form, read once for all the errors to name."""
    return {f["id"]: f["label"] for f in tasks.get(task_id).form or []}
