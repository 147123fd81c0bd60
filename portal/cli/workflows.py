"""`flask workflows ...`: deploy, start, list and complete tasks, show instances, tick the timers."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal.errors import InvalidDiagramError
from portal.extensions import db
from portal.models import HumanTask
from portal.services.identity import auth
from portal.services.workflow import definitions, instances, steps, tasks, timers

workflows_cli = AppGroup("workflows", help="Deploy processes and operate instances.")


def parse_var(text: str):
    """`name=value`: numbers become int or Decimal, true/false booleans, YYYY-MM-DD dates, else text."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"{text!r}: write name=value")
    return name.strip(), _value(raw)


_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?\d+\.\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _value(raw: str):
    """Only plain numerals become numbers: INF, NaN or 2026_001 stay text."""
    text = raw.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INTEGER.match(text):
        return int(text)
    if _DECIMAL.match(text):
        return Decimal(text)
    if _DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            return raw
    return raw


def _vars(pairs) -> dict:
    return dict(parse_var(p) for p in pairs)


def _json_default(value):
    return str(value) if isinstance(value, (Decimal, date)) else repr(value)


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=_json_default, sort_keys=True))


@workflows_cli.command("deploy")
@click.argument("bpmn_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--by", default="cli", help="Who deploys (shown in the version list).")
def deploy(bpmn_file, by):
    """Deploy a BPMN file as a new version (refused with every problem listed)."""
    from portal.cli import run_use_case

    xml = Path(bpmn_file).read_text(encoding="utf-8")
    try:
        definition = run_use_case(lambda: definitions.deploy(xml, by))
    except click.ClickException as exc:
        cause = exc.__cause__
        if isinstance(cause, InvalidDiagramError):
            for element, reason in cause.problems:
                click.echo(f"  {element or 'diagram'}: {reason}", err=True)
            raise click.ClickException(f"{bpmn_file} was not deployed: {len(cause.problems)} problem(s)") from None
        raise
    click.echo(f"Deployed {definition.key} version {definition.version}.")


@workflows_cli.command("versions")
@click.argument("key", required=False)
def versions(key):
    """List deployed versions with who deployed them and when."""
    for d in definitions.versions(key):
        click.echo(f"{d.key:30} v{d.version:<4} {d.deployed_at:%Y-%m-%d %H:%M}  {d.deployed_by}")


@workflows_cli.command("start")
@click.argument("key")
@click.option("--business-key", default="", help="E.g. the proforma number.")
@click.option("--var", "variables", multiple=True, help="name=value; repeat for several.")
def start(key, business_key, variables):
    """Start an instance of the newest version of KEY."""
    from portal.cli import run_use_case

    row = run_use_case(lambda: steps.start(key, business_key, _vars(variables), started_by="cli"))
    click.echo(f"Started instance {row.id} ({row.status}).")


@workflows_cli.command("tasks")
@click.option("--instance", "instance_id", type=int, help="Only this instance's tasks.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_tasks(instance_id, as_json):
    """List open human tasks."""
    query = select(HumanTask).where(HumanTask.state == "open").order_by(HumanTask.id)
    if instance_id:
        query = query.where(HumanTask.instance_id == instance_id)
    rows = [{"id": t.id, "instance": t.instance_id, "element": t.element_id, "name": t.name,
             "roles": t.candidate_roles, "users": t.candidate_users, "assignee": t.assignee,
             "due_at": t.due_at.isoformat() if t.due_at else None, "version": t.version}
            for t in db.session.scalars(query)]
    if as_json:
        _echo_json(rows)
        return
    for t in rows:
        who = t["assignee"] or ",".join(t["roles"] + t["users"])
        click.echo(f"{t['id']:>6}  instance {t['instance']:<6} {t['element']:24} {t['name']:30} {who}")


@workflows_cli.command("complete")
@click.argument("task_id", type=int)
@click.option("--as", "email", required=True, help="The user completing the task.")
@click.option("--var", "variables", multiple=True, help="Form values, name=value.")
@click.option("--outcome", default=None, help="E.g. approved / rejected.")
def complete(task_id, email, variables, outcome):
    """Complete a human task as a user (the same rules as the inbox: roles, four-eyes)."""
    from portal.cli import run_use_case

    def use_case():
        user = auth.find_user(email)
        if user is None:
            raise click.ClickException(f"no user {email}")
        return tasks.complete(task_id, user, dict(parse_var(v) for v in variables), outcome=outcome)

    task = run_use_case(use_case)
    click.echo(f"Completed task {task.id} ({task.element_id}) of instance {task.instance_id}.")


@workflows_cli.command("show")
@click.argument("instance_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def show(instance_id, as_json):
    """Status, active elements, variables and history of an instance."""
    from portal.cli import run_use_case

    data = run_use_case(lambda: steps.describe(instances.get(instance_id)))
    if as_json:
        _echo_json(data)
        return
    click.echo(f"Instance {data['id']}: {data['process']} v{data['version']} [{data['business_key']}] {data['status']}")
    click.echo(f"Active: {', '.join(data['markers']['active']) or '-'}")
    for event in data["history"]:
        click.echo(f"  {event['at']}  {event['kind']:18} {event['element']:20} {event['actor']}")


@workflows_cli.command("tick")
@click.option("--now", "at", type=click.DateTime(), default=None,
              help="Act as if it were this UTC time (e.g. 2026-12-01T09:00:00); default: now.")
def tick(at):
    """Fire due timers and queue due retries now (the periodic sweep does this by itself)."""
    from portal.cli import run_use_case

    result = run_use_case(lambda: timers.sweep(at))
    busy = result["timers_waiting_for_busy_instances"]
    click.echo(f"Fired {result['timers_fired']} timer(s); queued {result['jobs_queued']} job(s) again."
               + (f" {busy} due timer(s) wait for instances busy elsewhere; the next tick fires them." if busy else ""))
