"""Process definitions: deploy BPMN diagrams as new versions, list versions, find the active one."""

from __future__ import annotations

import hashlib

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.errors import Conflict, InvalidDiagramError, NotFound
from portal.extensions import db
from portal.infra.lookup import get_or_not_found
from portal.models import ProcessDefinition
from portal.models.user import ROLE_CATALOG
from portal.services.workflow import operations
from workflows import engine
from workflows.parser import InvalidDiagram, Rules


def rules() -> Rules:
    """What a diagram may name: the registered operations and the portal's roles."""
    return Rules(topics=operations.topics(), roles=set(ROLE_CATALOG))


def validate(bpmn_xml: str) -> engine.Definition:
    """Check a diagram; InvalidDiagramError lists every problem by element id."""
    try:
        return engine.compile_definition(bpmn_xml, rules())
    except InvalidDiagram as exc:
        raise InvalidDiagramError([(p.element_id, p.message) for p in exc.problems]) from exc


def deploy(bpmn_xml: str, deployed_by: str) -> ProcessDefinition:
    """Deploy as the next version of its process; an unchanged diagram keeps its current version."""
    compiled = validate(bpmn_xml)
    digest = hashlib.sha256(bpmn_xml.encode()).hexdigest()
    current = latest(compiled.key, required=False)
    if current is not None and current.sha256 == digest:
        return current
    version = current.version + 1 if current else 1
    definition = ProcessDefinition(key=compiled.key, name=compiled.name, version=version, bpmn_xml=bpmn_xml,
                                   sha256=digest, deployed_by=deployed_by)
    try:
        with db.session.begin_nested():  # a deploy of the same process at the same moment took the number
            db.session.add(definition)
    except IntegrityError as exc:
        raise Conflict(f"another version of {compiled.key} was deployed at the same moment; deploy again to "
                       "make yours the next one") from exc
    return definition


def latest(key: str, required: bool = True) -> ProcessDefinition | None:
    """The newest version of a process (the one new instances start on)."""
    newest = select(func.max(ProcessDefinition.version)).where(ProcessDefinition.key == key).scalar_subquery()
    found = db.session.scalar(select(ProcessDefinition).where(ProcessDefinition.key == key,
                                                              ProcessDefinition.version == newest))
    if found is None and required:
        raise NotFound(f"no deployed process {key!r}")
    return found


def versions(key: str | None = None) -> list[ProcessDefinition]:
    """Deployed versions, newest first."""
    return list(db.session.scalars(_versions(key)))


def versions_page(key: str | None = None, page: int = 1, size: int = 50) -> Pagination:
    """One page of the deployed versions (of one process, if `key`), newest first; past the end, an empty page."""
    return db.paginate(_versions(key), page=page, per_page=size, max_per_page=None, error_out=False)


def keys() -> list[str]:
    return list(db.session.scalars(select(ProcessDefinition.key).distinct().order_by(ProcessDefinition.key)))


def _versions(key: str | None):
    query = select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
    return query.where(ProcessDefinition.key == key) if key else query


def get(definition_id: int) -> ProcessDefinition:
    return get_or_not_found(ProcessDefinition, definition_id, "process definition")


_compiled: dict[tuple[int, str], engine.Definition] = {}


def compiled(definition: ProcessDefinition) -> engine.Definition:
    """The parsed spec of a stored version, cached by id and content (the XML is loaded only on a miss)."""
    key = (definition.id, definition.sha256)
    if key not in _compiled:
        _compiled[key] = engine.compile_definition(definition.bpmn_xml)
    return _compiled[key]
