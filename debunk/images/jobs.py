"""Match jobs: the images whose text is read after the answer (a batch's, a caller's that asked for `ocr: later`,
or a single image whose reading did not fit IMAGE_OCR_BUDGET_SECONDS).

The request is stored first (its images in the default storage under `match-jobs/`), the job's task is queued
through the transactional outbox (`debunk.core.outbox.enqueue`): a broker outage delays the answer, never loses
it. The task reads each image, matches it again with the text read (`match_many` with `ocr_text`: the same
decisions as a synchronous answer, suspected matches queued alike), keeps the results and removes the images.

A finished job (done, or failed) writes a `MatchJobNotice` in the same transaction: the `match.completed` webhook,
sent by the one attempt loop of `debunk.webhooks.services` as sanction notices are; the platform can also read
GET /api/v1/match/jobs/<id>. Failures:
- an attempt that raises is retried (after 30 s, then 60 s…) and the job fails after MATCH_JOB_MAX_ATTEMPTS;
- every attempt counts when it starts (a conditional UPDATE: two copies of the task cannot both start the same
  attempt), so a job whose attempts keep dying with their worker (an image that kills it) fails too;
- a job still pending MATCH_JOB_GRACE_SECONDS after it was queued or last started is queued again by the beat
  (`match_jobs_sweep`: the worker died, the broker lost the task). Two runs of a job may then overlap: the first to
  finish records its outcome, the other's writes are rolled back, so results and notice exist once;
- finished jobs and their notices are deleted after MATCH_JOB_RETENTION_DAYS (`match_jobs_purge`).
"""

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation

from debunk.api.models import Platform
from debunk.core.outbox import enqueue
from debunk.images.models import MatchJob, MatchJobNotice
from debunk.webhooks.services import OPEN, OutboxKind, outbox_attempt

logger = logging.getLogger("debunk.images")

EVENT_TYPE = "match.completed"
ERROR_KEEP = 2000  # characters of an attempt's error kept on the job
RETRY_BASE = timedelta(seconds=30)  # first retry after an attempt raised; doubles with each attempt
FINISHED = (MatchJob.Status.DONE, MatchJob.Status.FAILED)


def match_jobs_attach(
    *, platform: Platform, requests: list[Any], results: list[dict[str, Any]], ids: list[str | None], lang: str
) -> MatchJob | None:
    """One job for the answers that say `pending` (their images still to be read); each gets its `job_id`."""
    pending = [k for k, result in enumerate(results) if result.get("pending")]
    if not pending:
        return None
    job = match_job_create(platform=platform, entries=[(ids[k], requests[k]) for k in pending], lang=lang)
    for k in pending:
        results[k]["job_id"] = job.pk
    return job


def match_job_create(*, platform: Platform, entries: list[tuple[str | None, Any]], lang: str) -> MatchJob:
    """Store the requests (id, text, context, post id, image) and queue the job's task once this commits."""
    from debunk.images.tasks import match_job_run_task  # tasks import this module

    names: list[str] = []
    try:
        for _, request in entries:
            image = request.image
            name = f"match-jobs/{timezone.now():%Y/%m/%d}/{image.print.sha256[:24]}.{image.print.format.lower()}"
            names.append(default_storage.save(name, ContentFile(image.data)))
        with transaction.atomic():
            job = MatchJob.objects.create(
                platform=platform,
                lang=lang,
                items=[
                    {
                        "id": item_id,
                        "text": request.text,
                        "context": request.context,
                        "platform_post_id": request.platform_post_id,
                        "image": name,
                    }
                    for (item_id, request), name in zip(entries, names, strict=True)
                ],
            )
            enqueue(match_job_run_task, job.pk)
    except Exception:
        for name in names:
            default_storage.delete(name)
        raise
    return job


class _Superseded(Exception):
    """Another run of the job recorded its outcome first: this run's writes are rolled back."""


def _queued_key(job_id: int) -> str:
    return f"debunk:match-job-queued:{job_id}"


def match_job_run(job_id: int) -> str:
    """One attempt at a pending job. Returns `done`, `retrying` (it raised and attempts are left: the caller
    queues it again, `match_job_retry_later`), `failed` (out of attempts: the platform is told) or `skipped`
    (not pending, another copy of the task started this attempt, or another run finished first)."""
    job = MatchJob.objects.select_related("platform").filter(pk=job_id, status=MatchJob.Status.PENDING).first()
    if job is None:
        return "skipped"
    if job.attempts >= settings.MATCH_JOB_MAX_ATTEMPTS:
        # every attempt started and none recorded an outcome: their worker died (or the last one is still running
        # past the grace period, and will find the job failed)
        error = f"{job.attempts} attempts did not finish (their worker stopped, or the task was lost)"
        return "failed" if _close(job, status=MatchJob.Status.FAILED, error=_joined(error, job.error)) else "skipped"
    # The start counts the attempt; conditional on the count read, so that two copies cannot start the same one.
    started = MatchJob.objects.filter(pk=job.pk, status=MatchJob.Status.PENDING, attempts=job.attempts)
    if not started.update(attempts=F("attempts") + 1):
        return "skipped"
    job.attempts += 1
    cache.set(_queued_key(job.pk), 1, settings.MATCH_JOB_GRACE_SECONDS)  # running: the sweep leaves it alone
    try:
        _run(job)
    except _Superseded:
        return "skipped"
    except Exception as exc:
        logger.exception("match job %s: attempt %d of %d failed", job.pk, job.attempts, settings.MATCH_JOB_MAX_ATTEMPTS)
        error = f"attempt {job.attempts}: {type(exc).__name__}: {exc}"[:ERROR_KEEP]
        if job.attempts >= settings.MATCH_JOB_MAX_ATTEMPTS:
            return "failed" if _close(job, status=MatchJob.Status.FAILED, error=error) else "skipped"
        MatchJob.objects.filter(pk=job.pk, status=MatchJob.Status.PENDING).update(error=error)
        return "retrying"
    return "done"


def _joined(first: str, second: str) -> str:
    return (f"{first}; last error: {second}" if second else first)[:ERROR_KEEP]


def _run(job: MatchJob) -> None:
    """Read the images (outside any transaction: OCR takes seconds), then match and record in one transaction."""
    from debunk.images.decode import ImageRejected
    from debunk.images.services import query_image, read_text
    from debunk.matching.services import MatchRequest, match_many

    requests, ids = [], []
    for item in job.items:
        with default_storage.open(item["image"], "rb") as stored:
            data = stored.read()
        try:
            image = query_image(data)
        except ImageRejected as exc:  # checked at the request: only a changed limit can refuse it now
            logger.warning("match job %s: image %s refused: %s", job.pk, item["image"], exc)
            image = None
        ocr_text = read_text(data).text if image is not None else None
        requests.append(
            MatchRequest(
                item["text"], item["context"], item["platform_post_id"], image=image, ocr="off", ocr_text=ocr_text
            )
        )
        ids.append(item["id"])
    with transaction.atomic():
        with translation.override(job.lang or None):
            answers = match_many(requests, platform=job.platform)
        results = [{"id": item_id, **answer} for item_id, answer in zip(ids, answers, strict=True)]
        if not _close(job, status=MatchJob.Status.DONE, results=results):
            raise _Superseded  # rolls back this run's suspected matches: the other run queued them


def _close(
    job: MatchJob, *, status: str, results: list[dict[str, Any]] | None = None, error: str | None = None
) -> bool:
    """Record a job's outcome if it is still pending, with its notice (the webhook), in one transaction; its
    images are removed once that commits. False if another run recorded one first."""
    now = timezone.now()
    fields: dict[str, Any] = {"status": status, "results": results, "finished_at": now}
    if error is not None:
        fields["error"] = error[:ERROR_KEEP]
    with transaction.atomic():
        if not MatchJob.objects.filter(pk=job.pk, status=MatchJob.Status.PENDING).update(**fields):
            return False
        for name, value in fields.items():
            setattr(job, name, value)
        _notice_enqueue(job, now=now)
        names = [item["image"] for item in job.items]
        transaction.on_commit(lambda: _delete_images(names), robust=True)
    if status == MatchJob.Status.FAILED:
        logger.warning("match job %s failed after %d attempt(s): %s", job.pk, job.attempts, job.error[:200])
    return True


def _delete_images(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def match_job_retry_later(job_id: int) -> None:
    """Queue the next attempt of a job whose attempt raised, after a delay that doubles with each attempt. If the
    broker does not take it, the sweep queues the job again after MATCH_JOB_GRACE_SECONDS."""
    from debunk.images.tasks import match_job_run_task  # tasks import this module

    attempts = MatchJob.objects.filter(pk=job_id).values_list("attempts", flat=True).first() or 1
    delay = RETRY_BASE * 2 ** min(max(attempts - 1, 0), 10)
    try:
        match_job_run_task.apply_async((job_id,), countdown=delay.total_seconds(), retry=False)
    except Exception:
        logger.exception("match job %s: its retry could not be queued; the sweep will queue it", job_id)


# --- what the platform sees ------------------------------------------------------------------------------------


def platform_match_job(*, platform_id: int, job_id: int) -> MatchJob | None:
    """The platform's own job with this id (another platform's is None, as an unknown id is)."""
    return MatchJob.objects.filter(pk=job_id, platform_id=platform_id).first()


def _results(job: MatchJob) -> list[dict[str, Any]] | None:
    return job.results if job.status == MatchJob.Status.DONE else None


def match_job_item(job: MatchJob) -> dict[str, Any]:
    """A job as GET /api/v1/match/jobs/<id> answers it: results only once done."""
    return {
        "id": job.pk,
        "status": job.status,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "results": _results(job),
    }


# --- the webhook (outbox) ----------------------------------------------------------------------------------------


def _notice_enqueue(job: MatchJob, *, now: datetime) -> MatchJobNotice:
    """The job's `match.completed` notice, in the caller's transaction; sent after commit (and by the beat)."""
    from debunk.images.tasks import deliver_match_job_notice  # tasks import this module

    notice = MatchJobNotice.objects.create(
        job=job, platform_id=job.platform_id, message_id=f"msg_{uuid.uuid4().hex}", created_at=now
    )
    enqueue(deliver_match_job_notice, notice.pk)
    return notice


def notice_body(notice: MatchJobNotice) -> bytes:
    """`{"type": "match.completed", "timestamp", "data": {"job_id", "status", "results"}}`: results as the
    synchronous answers (each with its item's `id`), null for a failed job; JSON, UTF-8, keys sorted."""
    job = notice.job
    payload = {
        "type": EVENT_TYPE,
        "timestamp": notice.created_at.isoformat(),
        "data": {"job_id": job.pk, "status": job.status, "results": _results(job)},
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


class MatchJobNotices(OutboxKind):
    """A notice goes to its platform's current endpoint; without one it waits for one (the platform reads
    GET /api/v1/match/jobs/<id> meanwhile)."""

    model = MatchJobNotice
    name = "match job notice"
    select_related = ("job",)

    def body(self, message: MatchJobNotice) -> bytes:
        return notice_body(message)


NOTICES = MatchJobNotices()


def notice_attempt(*, notice_id: int) -> str:
    """Send one notice if due (debunk.webhooks.services.outbox_attempt): skipped, waiting, delivered, retrying or
    dead."""
    return outbox_attempt(kind=NOTICES, message_id=notice_id)


def notices_due(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """(id, attempts) of the notices whose next attempt is due, oldest first."""
    now = now or timezone.now()
    due = MatchJobNotice.objects.filter(status__in=OPEN, next_attempt_at__lte=now).order_by("next_attempt_at")
    return list(due.values_list("pk", "attempts")[:1000])


# --- the beat: lost jobs, old jobs -------------------------------------------------------------------------------


def match_jobs_sweep(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Queue again the pending jobs older than MATCH_JOB_GRACE_SECONDS that were not queued or started within
    that time (their worker died, or the broker lost the task); returns how many were queued. Through the outbox:
    with the broker down they wait in it."""
    from debunk.images.tasks import match_job_run_task  # tasks import this module

    grace = settings.MATCH_JOB_GRACE_SECONDS
    now = now or timezone.now()
    stuck = MatchJob.objects.filter(status=MatchJob.Status.PENDING, created_at__lte=now - timedelta(seconds=grace))
    queued = 0
    for job_id in stuck.order_by("created_at", "pk").values_list("pk", flat=True)[:limit]:
        if cache.add(_queued_key(job_id), 1, grace):  # once per grace period, not behind a busy worker each minute
            enqueue(match_job_run_task, job_id)
            queued += 1
    if queued:
        logger.info("match jobs sweep: %d pending job(s) queued again", queued)
    return queued


def match_jobs_purge(*, older_than_days: int, batch: int = 1000) -> int:
    """Delete the jobs finished more than `older_than_days` ago, with their notices (delivered or not) and any
    image left behind; returns how many jobs were deleted. Pending jobs are kept."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    old = MatchJob.objects.filter(status__in=FINISHED, finished_at__lt=cutoff)
    deleted = 0
    while rows := list(old.values_list("pk", "items")[:batch]):
        deleted += MatchJob.objects.filter(pk__in=[pk for pk, _ in rows]).delete()[1].get(MatchJob._meta.label, 0)
        _delete_images([item["image"] for _, items in rows for item in items])
    return deleted
