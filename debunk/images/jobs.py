"""Match jobs: the images whose text is read after the answer (a batch's, a caller's that asked for `ocr: later`,
or a single image whose reading did not fit IMAGE_OCR_BUDGET_SECONDS).

The request is stored first (its images in the default storage under `match-jobs/`), the job's task is queued
through the transactional outbox (`debunk.core.outbox.enqueue`): a broker outage delays the answer, never loses
it. The task reads each image, matches it again with the text read (`match_many` with `ocr_text`: the same
decisions as a synchronous answer, suspected matches queued alike), keeps the results and removes the images.
"""

import logging
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone, translation

from debunk.api.models import Platform
from debunk.images.models import MatchJob

logger = logging.getLogger("debunk.images")


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
    from debunk.core.outbox import enqueue
    from debunk.images.tasks import match_job_run_task

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


def match_job_run(job_id: int) -> str:
    """Read and match a pending job's images; idempotent (a job already done is left as it is)."""
    from debunk.images.decode import ImageRejected
    from debunk.images.services import query_image, read_text
    from debunk.matching.services import MatchRequest, match_many

    job = MatchJob.objects.select_related("platform").filter(pk=job_id, status=MatchJob.Status.PENDING).first()
    if job is None:
        return "skipped"
    MatchJob.objects.filter(pk=job.pk).update(attempts=job.attempts + 1)
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
        job.results = [{"id": item_id, **answer} for item_id, answer in zip(ids, answers, strict=True)]
        job.status = MatchJob.Status.DONE
        job.finished_at = timezone.now()
        job.save(update_fields=["results", "status", "finished_at"])
        names = [item["image"] for item in job.items]
        transaction.on_commit(lambda: [default_storage.delete(name) for name in names], robust=True)
    return "done"
