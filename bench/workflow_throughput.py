"""Workflow throughput on PostgreSQL: N complete approvals (3 user tasks, 2 service tasks) through the same
service functions the web uses, jobs inline and through Redis + worker processes, next to raw SpiffWorkflow
in memory (serialize + deserialize at every wait state); and whether a step's cost grows with a long loop.

    .venv/bin/python bench/workflow_throughput.py [--approvals 300] [--workers 2] [--drivers 2]

Each path runs with one process playing the web tier and again with --drivers processes side by side (as
gunicorn's workers serve requests); the raw SpiffWorkflow figure is given for the same process counts.

Needs PostgreSQL (BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test, a scratch
database is created and dropped) and, for the RQ part, Redis (BENCH_REDIS_URL, default db 14, flushed).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, SECRET, make_app, scratch_database
from sqlalchemy import select

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
APPROVAL = (ROOT / "bench" / "approval.bpmn").read_text()
LOOP = (ROOT / "bench" / "loop.bpmn").read_text()
USER_STEPS = ("prepare", "review", "approve")


def prepare_database(app) -> dict:
    from flask_migrate import upgrade

    from portal.extensions import db
    from portal.services.identity import users
    from portal.services.workflow import definitions

    with app.app_context():
        upgrade()
        people = {role: users.create_user(f"{role}@bench.example", "bench-password-1", [role],
                                          with_authenticator=False).id
                  for role in ("accountant", "reviewer", "approver")}
        definitions.deploy(APPROVAL, "bench")
        definitions.deploy(LOOP, "bench")
        db.session.commit()
    return people


# ---------------------------------------------------------------------------------------------- raw Spiff

def raw_spiff_steps(n: int) -> list[float]:
    from workflows import engine

    definition = engine.compile_definition(APPROVAL)
    steps = []
    for _ in range(n):
        t0 = time.perf_counter()
        state = engine.Instance.start(definition, {}).dumps()
        steps.append(time.perf_counter() - t0)
        while True:
            t0 = time.perf_counter()
            instance = engine.Instance.load(definition, state)
            if instance.is_completed:
                break
            external = instance.external_tasks()
            if external:
                instance.deliver(external[0].guid, {})
            else:
                instance.complete_user_task(instance.user_tasks()[0].guid, {}, "bench")
            state = instance.dumps()
            steps.append(time.perf_counter() - t0)
    return steps


# ---------------------------------------------------------------------------------------------- portal

def open_task_id(instance_id: int, element_id: str) -> int:
    """The id the inbox links to (the web request gets it from the URL, so only the id is read here)."""
    from portal.extensions import db
    from portal.models import HumanTask

    return db.session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                        HumanTask.element_id == element_id,
                                                        HumanTask.state == "open"))


def complete_step(instance_id: int, element_id: str, user_id: int) -> None:
    """What the inbox does: one request = one use case = one transaction, with the user loaded as
    Flask-Login's loader does."""
    from portal.extensions import db
    from portal.services import tasks, users

    tasks.complete(open_task_id(instance_id, element_id), users.signed_in(str(user_id)), {})
    db.session.commit()


def inline_steps(app, people: dict, business_keys: list[str]) -> list[float]:
    """Complete approvals one after the other, as one web worker would; returns each step's duration."""
    from portal.extensions import db
    from portal.services.workflow import steps as workflow_steps

    steps = []
    with app.app_context():
        for business_key in business_keys:
            t0 = time.perf_counter()
            instance_id = workflow_steps.start("bench_approval", business_key).id
            db.session.commit()
            steps.append(time.perf_counter() - t0)
            for element, role in zip(USER_STEPS, ("accountant", "reviewer", "approver"), strict=True):
                t0 = time.perf_counter()
                complete_step(instance_id, element, people[role])  # the next service job runs after the commit
                steps.append(time.perf_counter() - t0)
            db.session.remove()
    return steps


def wait_for(instance_ids: list[int], element: str | None, timeout: float = 300) -> None:
    """Until every instance has its `element` task open (or is completed when element is None)."""
    from sqlalchemy import func

    from portal.extensions import db
    from portal.models import HumanTask, ProcessInstance

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # a fresh snapshot
        if element is None:
            done = db.session.scalar(select(func.count()).where(ProcessInstance.id.in_(instance_ids),
                                                                 ProcessInstance.status == "completed"))
        else:
            done = db.session.scalar(select(func.count()).where(HumanTask.instance_id.in_(instance_ids),
                                                                 HumanTask.element_id == element,
                                                                 HumanTask.state == "open"))
        if done == len(instance_ids):
            return
        time.sleep(0.005)
    raise TimeoutError(f"workers did not finish ({element or 'completion'})")


def start_all(app, business_keys: list[str]) -> list[int]:
    from portal.extensions import db
    from portal.services.workflow import steps as workflow_steps

    with app.app_context():
        ids = []
        for business_key in business_keys:
            ids.append(workflow_steps.start("bench_approval", business_key).id)
            db.session.commit()
        return ids


def complete_all(app, instance_ids: list[int], element: str, user_id: int) -> None:
    with app.app_context():
        for instance_id in instance_ids:
            complete_step(instance_id, element, user_id)


# ------------------------------------------------------------------------------------- driver processes
# Web workers (gunicorn) serve requests side by side; each driver process plays one of them.

_DRIVER_APP = None


def _init_driver(url: str, redis_url: str | None) -> None:
    global _DRIVER_APP
    _DRIVER_APP = make_app(url, redis_url)
    with _DRIVER_APP.app_context():  # connect and warm the statement caches before the clock runs
        from portal.extensions import db

        db.session.execute(select(1))


def _ready(_) -> int:
    time.sleep(0.05)  # so that the calls spread over every process
    return os.getpid()


def _raw_slice(n: int) -> list[float]:
    return raw_spiff_steps(n)


def _inline_slice(job: tuple) -> list[float]:
    people, business_keys = job
    return inline_steps(_DRIVER_APP, people, business_keys)


def _start_slice(business_keys: list[str]) -> list[int]:
    return start_all(_DRIVER_APP, business_keys)


def _complete_slice(job: tuple) -> None:
    instance_ids, element, user_id = job
    complete_all(_DRIVER_APP, instance_ids, element, user_id)


@contextmanager
def drivers(count: int, url: str | None = None, redis_url: str | None = None):
    """`count` ready driver processes (spawned, so none shares a connection with this one)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(count, initializer=_init_driver if url else None,
                      initargs=(url, redis_url) if url else ()) as pool:
        while len(set(pool.map(_ready, range(count * 2), chunksize=1))) < count:
            pass  # every process has run its initializer
        yield pool


def split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


def raw_spiff(n: int, processes: int) -> dict:
    with drivers(processes) as pool:
        started = time.perf_counter()
        steps = [step for part in pool.map(_raw_slice, [len(p) for p in split(list(range(n)), processes)])
                 for step in part]
        return summary(n, time.perf_counter() - started, steps)


def inline(url: str, people: dict, n: int, processes: int, label: str) -> dict:
    keys = [f"{label}-{i}" for i in range(n)]
    with drivers(processes, url) as pool:
        pool.map(_inline_slice, [(people, [f"{label}-warm-{i}"]) for i in range(processes)], chunksize=1)
        started = time.perf_counter()
        steps = [step for part in pool.map(_inline_slice, [(people, part) for part in split(keys, processes)],
                                           chunksize=1) for step in part]
        return summary(n, time.perf_counter() - started, steps)


def through_rq(app, url: str, people: dict, n: int, workers: int, processes: int, label: str) -> dict:
    """All instances advance together; the web side is `processes` driver processes, service tasks run on
    `workers` real `flask worker` processes."""
    from redis import Redis

    Redis.from_url(REDIS).flushdb()
    env = {**os.environ, "LEDGERFLOW_ENV": "testing", "SECRET_KEY": SECRET, "DATABASE_URL": url, "REDIS_URL": REDIS}
    flask = str(Path(sys.executable).with_name("flask"))
    procs = [subprocess.Popen([flask, "--app", "wsgi", "worker"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(workers)]
    latencies = []
    try:
        with drivers(processes, url, REDIS) as pool, app.app_context():
            time.sleep(3)  # let the workers import the app
            keys = [f"{label}-{i}" for i in range(n)]
            started = time.perf_counter()
            ids = [i for part in pool.map(_start_slice, split(keys, processes), chunksize=1) for i in part]
            for element, role, after in (("prepare", "accountant", "review"), ("review", "reviewer", "approve"),
                                         ("approve", "approver", None)):
                t0 = time.perf_counter()
                pool.map(_complete_slice, [(part, element, people[role]) for part in split(ids, processes)],
                         chunksize=1)
                wait_for(ids, after)
                latencies.append((time.perf_counter() - t0) / n)
            elapsed = time.perf_counter() - started
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    result = summary(n, elapsed, latencies)
    result["note"] = "per step = wall time of a phase / instances (pipelined across workers)"
    return result


def loop_growth(app, people: dict, rounds: int = 200) -> dict:
    from portal.extensions import db
    from portal.services.identity import users
    from portal.services.workflow import instances, tasks
    from portal.services.workflow import steps as workflow_steps

    timings = []
    with app.app_context():
        instance_id = workflow_steps.start("bench_loop", "LOOP", {"limit": rounds, "rounds": 0}).id
        db.session.commit()
        for i in range(1, rounds + 1):
            t0 = time.perf_counter()
            tasks.complete(open_task_id(instance_id, "step"), users.signed_in(str(people["reviewer"])),
                           {"rounds": str(i)})
            db.session.commit()
            timings.append(time.perf_counter() - t0)
        status = instances.get(instance_id).status
    first, last = timings[:20], timings[-20:]
    return {"rounds": rounds, "first_20_ms": ms(statistics.mean(first)), "last_20_ms": ms(statistics.mean(last)),
            "status": status}


# ---------------------------------------------------------------------------------------------- output

def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def summary(n: int, elapsed: float, steps: list[float]) -> dict:
    ordered = sorted(steps)
    return {"approvals": n, "seconds": round(elapsed, 2), "approvals_per_second": round(n / elapsed, 1),
            "step_ms_median": ms(statistics.median(ordered)), "step_ms_p95": ms(ordered[int(len(ordered) * 0.95)])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--approvals", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2, help="`flask worker` processes for the RQ path")
    parser.add_argument("--drivers", type=int, default=2,
                        help="besides one, how many processes play web workers side by side")
    args = parser.parse_args()
    counts = sorted({1, args.drivers})
    for count in counts:
        print(f"raw SpiffWorkflow, in memory, save/load at every wait state, {count} process(es): "
              f"{raw_spiff(args.approvals, count)}")
    with scratch_database() as url:
        people = prepare_database(make_app(url, None))
        for count in counts:
            result = inline(url, people, args.approvals, count, f"INL{count}")
            print(f"portal services, PostgreSQL, jobs inline, {count} web process(es): {result}")
        for count in counts:
            result = through_rq(make_app(url, REDIS), url, people, args.approvals, args.workers, count, f"RQ{count}")
            print(f"portal services, PostgreSQL, {count} web process(es), Redis + {args.workers} `flask worker` "
                  f"processes: {result}")
        print(f"step cost along a 200-round loop: {loop_growth(make_app(url, None), people)}")


if __name__ == "__main__":
    main()
