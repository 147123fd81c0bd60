"""Processes in the admin: diagram versions, the BPMN editor (validate, deploy), instances, incidents."""

from __future__ import annotations

from flask import Response, abort, flash, jsonify, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_admin.actions import action
from flask_login import current_user

from admin.base import GuardedView, ReadOnlyView
from portal.edge import http_status, run_and_flash
from portal.errors import DomainError, InvalidDiagramError, NotFound, ValidationError
from portal.infra.unit_of_work import unit_of_work
from portal.models import ProcessInstance, ServiceJob
from portal.security import can
from portal.services.workflow import definitions, migration, operations, service_jobs, steps
from workflows import engine


class DiagramsView(GuardedView, BaseView):
    """Deployed versions per process and the browser editor."""

    read_permission = "processes.read"
    write_permission = "processes.deploy"

    @expose("/")
    def index(self):
        key = request.args.get("process", "")
        page = definitions.versions_page(key or None, request.args.get("page", 1, type=int))
        return self.render("admin/processes/index.html", page=page, process=key, keys=definitions.keys(),
                           may_deploy=self.may_write)

    @expose("/editor")
    def editor(self):
        definition_id = request.args.get("version", type=int)
        xml = definitions.get(definition_id).bpmn_xml if definition_id else engine.starter_diagram()
        return self.render("admin/processes/editor.html", xml=xml, may_deploy=self.may_write,
                           templates=operations.element_templates())

    @expose("/xml/<int:definition_id>")
    def xml(self, definition_id: int):
        # The file is whatever an analyst deployed: downloaded, never rendered as a page of this site (an SVG
        # or XHTML element in it could otherwise run script with the viewer's session).
        definition = definitions.get(definition_id)
        return Response(definition.bpmn_xml, mimetype="application/xml", headers={
            "Content-Disposition": f'attachment; filename="{definition.key}-v{definition.version}.bpmn"',
            "Content-Security-Policy": "sandbox; default-src 'none'", "X-Content-Type-Options": "nosniff"})

    @expose("/validate", methods=["POST"])
    def validate(self):
        try:
            definitions.validate(_posted_xml())
        except InvalidDiagramError as exc:
            return jsonify(ok=False, problems=_problems(exc)), 200
        return jsonify(ok=True, problems=[])

    @expose("/deploy", methods=["POST"])
    def deploy(self):
        if not self.may_write:
            abort(403)
        try:
            with unit_of_work():
                definition = definitions.deploy(_posted_xml(), current_user.email)
        except InvalidDiagramError as exc:
            return jsonify(ok=False, problems=_problems(exc)), http_status(exc)
        except DomainError as exc:  # e.g. another deploy of the same process at the same moment
            return jsonify(ok=False, problems=[], error=str(exc)), http_status(exc)
        return jsonify(ok=True, key=definition.key, version=definition.version,
                       message=f"Deployed {definition.key} version {definition.version}.")


def _posted_xml() -> str:
    payload = request.get_json(silent=True) or {}
    xml = payload.get("xml") or request.form.get("xml") or ""
    if not xml.strip():
        raise ValidationError("xml", "the diagram is empty")
    return xml


def _problems(exc: InvalidDiagramError) -> list[dict]:
    return [{"element_id": element, "message": reason} for element, reason in exc.problems]


def _definition(view, context, model, name):
    return f"{model.definition.key} v{model.definition.version}"


class InstancesView(ReadOnlyView):
    """Every process instance; the details page draws it on its diagram with history and actions."""

    read_permission = "processes.read"
    write_permission = "processes.operate"
    column_list = ("id", "definition", "business_key", "status", "started_by", "started_at", "ended_at")
    column_formatters = {"definition": _definition}
    column_searchable_list = ("business_key", "started_by")
    column_filters = ("status", "business_key", "started_at", "ended_at")
    column_default_sort = ("id", True)
    column_export_list = column_list
    column_formatters_export = {"definition": _definition}
    details_template = "admin/processes/instance.html"

    def render(self, template, **kwargs):
        if template == self.details_template and kwargs.get("model") is not None:
            row = kwargs["model"]
            kwargs.update(info=steps.describe(row, request.args.get("history_page", 1, type=int)),
                          may_operate=self.may_write,
                          migration=migration.check(row)[1])
        return super().render(template, **kwargs)

    @expose("/<int:instance_id>/retry", methods=["POST"])
    def retry(self, instance_id: int):
        return self._operate(instance_id, lambda: service_jobs.retry_incident(instance_id, current_user.email),
                             "The failed step was queued again.")

    @expose("/<int:instance_id>/cancel", methods=["POST"])
    def cancel(self, instance_id: int):
        return self._operate(instance_id, lambda: steps.cancel(instance_id, current_user.email),
                             "The instance was cancelled.")

    @expose("/<int:instance_id>/migrate", methods=["POST"])
    def migrate(self, instance_id: int):
        return self._operate(instance_id, lambda: migration.migrate(instance_id, current_user.email),
                             "The instance now runs the newest version.")

    def _operate(self, instance_id: int, use_case, message: str):
        if not can(current_user, self.write_permission):
            abort(403)
        if isinstance(run_and_flash(use_case, message), NotFound):
            return redirect(url_for(".index_view"))
        return redirect(url_for(".details_view", id=instance_id))


class IncidentsView(ReadOnlyView):
    """Service tasks whose last retry failed, with the error and a Retry action."""

    read_permission = "processes.read"
    write_permission = "processes.operate"
    column_list = ("instance_id", "element_id", "topic", "state", "attempts", "last_error", "created_at",
                   "finished_at")
    column_searchable_list = ("topic", "element_id", "last_error")
    column_filters = ("state", "topic", "created_at")
    column_default_sort = ("id", True)

    def get_query(self):
        return super().get_query().filter(ServiceJob.state == "incident")

    def get_count_query(self):
        return super().get_count_query().filter(ServiceJob.state == "incident")

    def is_action_allowed(self, name):
        if name == "retry":  # read-only roles (analysts) see the list but not the action
            return can(current_user, self.write_permission)
        return super().is_action_allowed(name)

    @action("retry", "Retry", "Retry the instances of the selected failed steps?")
    def retry(self, ids):
        if not can(current_user, self.write_permission):
            abort(403)
        try:
            with unit_of_work():
                instance_ids = sorted({service_jobs.get(int(i)).instance_id for i in ids})
                queued = sum(service_jobs.retry_incident(instance_id, current_user.email)
                             for instance_id in instance_ids)
        except DomainError as exc:  # a job or incident gone meanwhile, say
            flash(str(exc), "error")
            return
        # Retry works per instance: every failed step of each chosen instance goes again.
        flash(f"Retried {len(instance_ids)} instance(s); {queued} failed step(s) queued again.", "success")


def register(admin) -> None:
    category = "Processes"
    admin.add_view(DiagramsView(name="Diagrams", endpoint="processes", category=category))
    admin.add_view(InstancesView(ProcessInstance, name="Instances", endpoint="instances", category=category))
    admin.add_view(IncidentsView(ServiceJob, name="Incidents", endpoint="incidents", category=category))
