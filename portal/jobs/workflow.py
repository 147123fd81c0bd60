"""Workflow jobs: thin wrappers that run one service in their own transaction."""

from portal.jobs import job
from portal.services.workflow import service_jobs, timers


@job
def run_service_job(job_id: int) -> str:
    """Run one external service task (enqueued after the commit that created it)."""
    return service_jobs.run(job_id)


@job
def sweep() -> dict:
    """Fire due timers and queue due retries."""
    return timers.sweep()
