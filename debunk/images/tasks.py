"""Celery tasks of image matching (names pinned as `debunk.tasks.<name>`, like every task of the project)."""

from celery import shared_task

from debunk.images.jobs import match_job_run


@shared_task(name="debunk.tasks.match_job_run")
def match_job_run_task(job_id: int) -> str:
    return match_job_run(job_id)
