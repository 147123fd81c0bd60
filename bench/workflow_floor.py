"""The floor under bench/workflow_throughput.py: the same approvals with the least any durable implementation
must do, written as plain psycopg statements (no ORM, no Flask, no checks), next to raw SpiffWorkflow.

    .venv/bin/python bench/workflow_floor.py [--approvals 300] [--rounds 3]

Each action (the start and three task completions) is one transaction, as a web request is, and writes what
the portal's step writes: the instance's state, the finished task, the next task and the history, then a
durable COMMIT. "pipelined" sends a step's writes and the COMMIT in one round trip (psycopg pipeline mode).
The schema is the portal's (migrations applied to a scratch database). Runs alternate, so that the machine's
noise hits every path alike. This is a yardstick for the portal's figure, not a way to run processes: it
skips authorization, validation, four-eyes, jobs, timers and the rest.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from common import make_app, scratch_database
from workflow_throughput import APPROVAL, prepare_database, raw_spiff_steps

from workflows import engine

HISTORY = "INSERT INTO workflow_history (instance_id, occurred_at, kind, element_id, actor, details) VALUES "
NEW_TASK = ("INSERT INTO human_tasks (instance_id, task_guid, element_id, name, candidate_roles, candidate_users,"
            " excluded_users, contributors, form, outcomes, state, created_at, version)"
            " VALUES (%s, %s, %s, %s, %s, '[]', '[]', '[]', '[]', '[]', 'open', now(), 1)")


def history_insert(instance_id: int, events: list[tuple[str, str, str]]) -> tuple[str, list]:
    values = ", ".join(["(%s, now(), %s, %s, %s, '{}')"] * len(events))
    return HISTORY + values, [value for kind, element, actor in events for value in (instance_id, kind, element,
                                                                                      actor)]


def writes(instance_id: int, instance: engine.Instance, events: list) -> list[tuple[str, list]]:
    statements = [history_insert(instance_id, events)]
    for view in instance.user_tasks():
        statements.append((NEW_TASK, [instance_id, view.guid, view.element_id, view.name,
                                      json.dumps(view.candidate_roles)]))
    return statements


def run_inline_services(instance: engine.Instance, events: list) -> None:
    """The diagram's service tasks (history notes) run inside the step, as in embedded mode."""
    while external := instance.external_tasks():
        view = external[0]
        events.append(("service_task_run", view.element_id, ""))
        instance.deliver(view.guid, {})


def start(conn, definition, definition_id: int, key: str, pipelined: bool) -> int:
    instance = engine.Instance.start(definition, {})
    run_inline_services(instance, events := [("created", "", "")])
    with conn.transaction():
        instance_id = conn.execute(
            "INSERT INTO process_instances (definition_id, business_key, status, state, serializer_version,"
            " waiting, row_version, started_by, started_at) VALUES (%s, %s, 'running', %s, %s, '{}', 1, '', now())"
            " RETURNING id", [definition_id, key, instance.dumps(), engine.serializer.VERSION]).fetchone()[0]
        execute(conn, writes(instance_id, instance, events), pipelined)
    return instance_id


def complete(conn, definition, instance_id: int, task_id: int, actor: str, pipelined: bool) -> None:
    with conn.transaction():
        state, guid, element = conn.execute(
            "SELECT i.state, t.task_guid, t.element_id FROM process_instances i JOIN human_tasks t"
            " ON t.instance_id = i.id WHERE t.id = %s FOR UPDATE OF i, t", [task_id]).fetchone()
        instance = engine.Instance.load(definition, state)
        instance.complete_user_task(guid, {}, actor)
        run_inline_services(instance, events := [("task_completed", element, actor)])
        status = "completed" if instance.is_completed else "running"
        execute(conn, [
            ("UPDATE human_tasks SET state = 'completed', completed_by = %s, completed_at = now(),"
             " version = version + 1 WHERE id = %s", [actor, task_id]),
            ("UPDATE process_instances SET state = %s, status = %s, row_version = row_version + 1 WHERE id = %s",
             [instance.dumps(), status, instance_id]),
            *writes(instance_id, instance, events)], pipelined)


def execute(conn, statements: list, pipelined: bool) -> None:
    if not pipelined:
        for sql, params in statements:
            conn.execute(sql, params)
        return
    with conn.pipeline():
        for sql, params in statements:
            conn.execute(sql, params)


def approvals(url: str, n: int, label: str, pipelined: bool) -> float:
    definition = engine.compile_definition(APPROVAL)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        definition_id = conn.execute("SELECT id FROM process_definitions WHERE key = 'bench_approval'").fetchone()[0]
        conn.commit()
        started = time.perf_counter()
        for i in range(n):
            instance_id = start(conn, definition, definition_id, f"{label}-{i}", pipelined)
            for actor in ("accountant@bench.example", "reviewer@bench.example", "approver@bench.example"):
                task_id = conn.execute("SELECT id FROM human_tasks WHERE instance_id = %s AND state = 'open'",
                                       [instance_id]).fetchone()[0]  # the id the inbox's link carries
                conn.commit()
                complete(conn, definition, instance_id, task_id, actor, pipelined)
        return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--approvals", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    figures: dict[str, list[float]] = {"raw SpiffWorkflow, in memory": [], "plain statements": [],
                                       "pipelined": []}
    with scratch_database() as url:
        prepare_database(make_app(url, None))
        for round_ in range(args.rounds):
            started = time.perf_counter()
            raw_spiff_steps(args.approvals)
            figures["raw SpiffWorkflow, in memory"].append(args.approvals / (time.perf_counter() - started))
            figures["plain statements"].append(approvals(url, args.approvals, f"P{round_}", False))
            figures["pipelined"].append(approvals(url, args.approvals, f"Q{round_}", True))
    raw = figures["raw SpiffWorkflow, in memory"]
    for name, rates in figures.items():
        ratios = [rate / reference for rate, reference in zip(rates, raw, strict=True)]
        print(f"{name:32} approvals/s {min(rates):7.1f}–{max(rates):7.1f}   "
              f"share of raw {min(ratios):.2f}–{max(ratios):.2f}")


if __name__ == "__main__":
    main()
