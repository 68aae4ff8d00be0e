"""Match jobs after the answer (debunk/images/jobs.py): the `match.completed` webhook, signed and received by a real
HTTP server on 127.0.0.1 (the webhook sink); GET /api/v1/match/jobs/<id> for the owner only; an attempt that raises
is retried and the job fails after MATCH_JOB_MAX_ATTEMPTS, the platform told; a lost job is queued again by the
sweep; a broker outage at creation keeps the task in the outbox; finished jobs are purged; the admin shows them
read-only; and a real Celery worker runs a job end to end (PostgreSQL and Redis: skipped with the reason without)."""

import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from debunk.core.models import QueuedTask
from debunk.core.outbox import outbox_sweep
from debunk.core.roles import REVIEWER, operator_user
from debunk.images import jobs
from debunk.images.models import MatchJob, MatchJobNotice
from debunk.images.tasks import deliver_match_job_notices, match_job_run_task, purge_match_jobs
from debunk.webhooks.models import OutboxMessage
from debunk.webhooks.services import endpoint_create
from tests.api.conftest import api_client, make_key, make_platform
from tests.celery_worker import spawn_worker, stop_worker, tasks_to, wait_until
from tests.corrections import delivery_fixtures
from tests.factories import UserFactory, publish_rumor
from tests.images import test_match_api
from tests.images.test_match_api import b64, encode, picture, screenshot_png, stored_files
from tests.redis_server import celery_broker, free_port

# pytest fixtures of the webhook sink and of the image tests' media directory (autouse)
allow_private, receiver = delivery_fixtures.allow_private, delivery_fixtures.receiver
media = test_match_api.media

MATCH = reverse("api:match")
BATCH = reverse("api:match-batch")
DELIVERED = OutboxMessage.Status.DELIVERED


def job_url(job_id: object) -> str:
    return reverse("api:match-job", args=[job_id])


@pytest.fixture(autouse=True)
def fresh_cache():
    """The sweep remembers in the cache which jobs it queued: nothing carried over from another test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def platform(db):
    return make_platform()


@pytest.fixture
def client(platform):
    return api_client(make_key(platform)[1])


@pytest.fixture
def endpoint(platform, receiver):
    return endpoint_create(platform=platform, url=receiver.url, secret=receiver.secret, by=operator_user())


def small(seed: int) -> str:
    """A picture no rumor has (base64), small enough that reading it takes little time."""
    return b64(encode(picture(seed, (320, 240))))


def pending_job(client, *seeds: int) -> MatchJob:
    """A job made by a real request, its task not run (the test's transaction never commits): one image through
    /match with `ocr: later`, or several through /match/batch."""
    if len(seeds) == 1:
        answer = client.post(MATCH, {"image": small(seeds[0]), "ocr": "later"}, format="json").json()
        assert answer["pending"] is True, answer
        return MatchJob.objects.get(pk=answer["job_id"])
    items = [{"id": f"item-{seed}", "image": small(seed)} for seed in seeds]
    results = client.post(BATCH, {"items": items}, format="json").json()["results"]
    [job_id] = {r["job_id"] for r in results}
    return MatchJob.objects.get(pk=job_id)


def lose_image(job: MatchJob, k: int = 0) -> bytes:
    """Remove a stored image of the job (storage lost it): reading it then raises."""
    name = job.items[k]["image"]
    with default_storage.open(name, "rb") as stored:
        data = stored.read()
    default_storage.delete(name)
    return data


# ---- done: the webhook and the API ---------------------------------------------------------------------------


def test_a_done_job_is_pushed_signed_once_and_read_by_get(
    client,
    endpoint,
    receiver,
    checker,
    reviewer,
    django_capture_on_commit_callbacks,
    media,
):
    claim, png = screenshot_png(1)
    rumor = publish_rumor(checker, reviewer, claim=claim)
    answer = client.post(MATCH, {"image": b64(png), "ocr": "later", "lang": "en"}, format="json").json()
    assert answer["pending"] is True and answer["matched"] is False
    waiting = client.get(job_url(answer["job_id"])).json()
    assert waiting["status"] == "pending" and waiting["results"] is None and waiting["finished_at"] is None
    assert not MatchJobNotice.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert match_job_run_task.delay(answer["job_id"]).get() == "done"

    job = MatchJob.objects.get(pk=answer["job_id"])
    notice = MatchJobNotice.objects.get(job=job)
    assert (notice.status, notice.attempts, notice.platform_id) == (DELIVERED, 1, job.platform_id)
    # the sink verified the Standard Webhooks signature with the endpoint's secret (it answers 401 otherwise)
    [arrival] = receiver.received
    assert arrival["webhook_id"] == notice.message_id and not arrival["duplicate"]
    payload = arrival["payload"]
    assert payload["type"] == "match.completed" and payload["timestamp"] == notice.created_at.isoformat()
    assert payload["data"]["job_id"] == job.pk and payload["data"]["status"] == "done"
    [result] = payload["data"]["results"]
    assert result["id"] is None and result["pending"] is False and result["matched"] is True
    assert [(m["rumor_id"], m["via"]) for m in result["matches"]] == [(rumor.pk, "ocr")]
    assert result["matches"][0]["verdict"]["text"] == "False"  # in the request's language
    done = client.get(job_url(job.pk)).json()
    assert done == {
        "id": job.pk,
        "status": "done",
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat(),
        "results": payload["data"]["results"],
    }
    assert stored_files(media) == []  # the image is removed once the job is done
    # a copy of the task arriving later changes nothing and sends nothing
    with django_capture_on_commit_callbacks(execute=True):
        assert match_job_run_task.delay(job.pk).get() == "skipped"
    assert MatchJobNotice.objects.count() == 1 and len(receiver.received) == 1


def test_get_answers_the_owner_only_and_404s_alike(client, platform, checker, reviewer):
    job = pending_job(client, 31)
    other = api_client(make_key(make_platform(code="douyin", name="Douyin"))[1])
    expected = {"detail": "No such match job."}
    for answer in (
        other.get(job_url(job.pk)),  # another platform's job
        client.get(job_url(job.pk + 1000)),  # unknown
        client.get(job_url("abc")),
        client.get(job_url("٣")),  # a decimal digit, but not ASCII
        client.get(job_url("9" * 30)),
    ):
        assert answer.status_code == 404 and answer.json() == expected
    assert api_client().get(job_url(job.pk)).status_code == 401
    mine = client.get(job_url(job.pk))
    assert mine.status_code == 200 and mine.json()["id"] == job.pk and mine.json()["status"] == "pending"


def test_the_notice_waits_for_an_endpoint_and_the_beat_sends_it(
    client,
    platform,
    receiver,
    django_capture_on_commit_callbacks,
):
    job = pending_job(client, 32)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.match_job_run(job.pk) == "done"
    notice = MatchJobNotice.objects.get(job=job)
    assert notice.status == OutboxMessage.Status.PENDING and notice.last_response == "no active endpoint"
    assert deliver_match_job_notices() == 0  # waiting an hour (or for an endpoint)
    endpoint_create(platform=platform, url=receiver.url, secret=receiver.secret, by=operator_user())
    assert deliver_match_job_notices() == 1  # the new endpoint made it due: the beat sends it
    notice.refresh_from_db()
    assert notice.status == DELIVERED
    assert [r["webhook_id"] for r in receiver.received] == [notice.message_id]


# ---- failures ----------------------------------------------------------------------------------------------------


def test_an_attempt_that_raises_is_counted_and_the_next_one_finishes(
    client, settings, django_capture_on_commit_callbacks
):
    job = pending_job(client, 33)
    data = lose_image(job)
    assert jobs.match_job_run(job.pk) == "retrying"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.finished_at) == ("pending", 1, None)
    assert job.error.startswith("attempt 1: FileNotFoundError")
    assert not MatchJobNotice.objects.exists()
    default_storage.save(job.items[0]["image"], ContentFile(data))  # the storage has it again
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.match_job_run(job.pk) == "done"
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 2) and len(job.results) == 1
    assert MatchJobNotice.objects.filter(job=job).count() == 1


def test_a_job_failing_every_attempt_fails_its_images_go_and_the_platform_is_told(
    client,
    endpoint,
    receiver,
    settings,
    media,
    django_capture_on_commit_callbacks,
):
    job = pending_job(client, 34, 35)
    assert len(stored_files(media)) == 2
    lose_image(job, 1)
    with django_capture_on_commit_callbacks(execute=True):
        # eager: each retry runs at once (a worker waits 30 s, then 60 s)
        assert match_job_run_task.delay(job.pk).get() == "retrying"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.results) == ("failed", 3, None)
    assert job.error.startswith("attempt 3: FileNotFoundError") and job.finished_at is not None
    assert stored_files(media) == []  # the other image is removed too
    notice = MatchJobNotice.objects.get(job=job)
    assert notice.status == DELIVERED
    [arrival] = receiver.received
    assert arrival["payload"]["data"] == {"job_id": job.pk, "status": "failed", "results": None}
    answer = client.get(job_url(job.pk)).json()
    assert answer["status"] == "failed" and answer["results"] is None and answer["finished_at"]
    with django_capture_on_commit_callbacks(execute=True):
        assert match_job_run_task.delay(job.pk).get() == "skipped"  # failed stays failed
    assert MatchJobNotice.objects.count() == 1


def test_the_attempts_setting_is_honoured(client, settings, django_capture_on_commit_callbacks):
    settings.MATCH_JOB_MAX_ATTEMPTS = 1
    job = pending_job(client, 36)
    lose_image(job)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.match_job_run(job.pk) == "failed"
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("failed", 1)


def test_a_job_whose_attempts_never_finished_fails_at_the_next_start(client, django_capture_on_commit_callbacks):
    job = pending_job(client, 37)
    MatchJob.objects.filter(pk=job.pk).update(attempts=3)  # three workers died reading it
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.match_job_run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == 3 and "did not finish" in job.error
    assert MatchJobNotice.objects.filter(job=job).exists()


# ---- lost jobs, outages, purge ------------------------------------------------------------------------------------


def test_the_sweep_queues_a_lost_pending_job_again_once_per_grace_period(
    client, settings, django_capture_on_commit_callbacks
):
    lost, running = pending_job(client, 38), pending_job(client, 39)  # their tasks never ran
    assert jobs.match_jobs_sweep() == 0  # younger than MATCH_JOB_GRACE_SECONDS: maybe still queued
    old = timezone.now() - timedelta(seconds=settings.MATCH_JOB_GRACE_SECONDS + 1)
    MatchJob.objects.update(created_at=old)
    cache.set(jobs._queued_key(running.pk), 1, 60)  # as an attempt that started a moment ago sets it
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.match_jobs_sweep() == 1
    lost.refresh_from_db()
    running.refresh_from_db()
    assert (lost.status, lost.attempts) == ("done", 1) and MatchJobNotice.objects.filter(job=lost).exists()
    assert (running.status, running.attempts) == ("pending", 0)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert jobs.match_jobs_sweep() == 0  # queued once per grace period, done ones never
    assert queued == []


def test_with_the_broker_down_the_job_waits_in_the_outbox_and_the_sweep_sends_it(
    client,
    endpoint,
    receiver,
    media,
    django_capture_on_commit_callbacks,
):
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"), django_capture_on_commit_callbacks(execute=True):
        response = client.post(MATCH, {"image": small(40), "ocr": "later"}, format="json")
    assert response.status_code == 200 and response.json()["pending"] is True  # the answer does not wait
    job = MatchJob.objects.get(pk=response.json()["job_id"])
    assert job.status == "pending" and len(stored_files(media)) == 1
    assert list(QueuedTask.objects.values_list("task", "args")) == [("debunk.tasks.match_job_run", [job.pk])]
    # the broker is back (here: tasks run in process): the outbox sweep sends the task
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_sweep(older_than=timedelta(0)) == 1
    job.refresh_from_db()
    assert job.status == "done" and not QueuedTask.objects.exists() and stored_files(media) == []
    assert [r["payload"]["data"]["job_id"] for r in receiver.received] == [job.pk]


def test_finished_jobs_and_their_notices_are_purged_after_the_retention(
    client,
    settings,
    media,
    django_capture_on_commit_callbacks,
):
    old_done, old_failed, recent, waiting = (pending_job(client, seed) for seed in (41, 42, 43, 44))
    lose_image(old_failed)
    settings.MATCH_JOB_MAX_ATTEMPTS = 1
    with django_capture_on_commit_callbacks(execute=True):
        assert [jobs.match_job_run(j.pk) for j in (old_done, old_failed, recent)] == ["done", "failed", "done"]
    long_ago = timezone.now() - timedelta(days=8)
    MatchJob.objects.filter(pk=waiting.pk).update(created_at=long_ago)
    MatchJob.objects.filter(pk__in=[old_done.pk, old_failed.pk]).update(created_at=long_ago, finished_at=long_ago)
    settings.MATCH_JOB_RETENTION_DAYS = 0
    assert purge_match_jobs() == 0  # 0: kept
    settings.MATCH_JOB_RETENTION_DAYS = 7
    assert purge_match_jobs() == 2
    assert set(MatchJob.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}  # pending ones stay
    assert set(MatchJobNotice.objects.values_list("job_id", flat=True)) == {recent.pk}
    assert [p.name for p in stored_files(media)] == [waiting.items[0]["image"].rsplit("/", 1)[1]]
    assert client.get(job_url(old_done.pk)).status_code == 404


# ---- admin ---------------------------------------------------------------------------------------------------------


def test_the_admin_shows_jobs_read_only(client, django_capture_on_commit_callbacks, db):
    job = pending_job(client, 45, 46)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.match_job_run(job.pk)
    browser = Client()
    browser.force_login(UserFactory(username="rev", roles=[REVIEWER]))
    listing = browser.get("/admin/debunk/matchjob/?status__exact=done", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert f"/admin/debunk/matchjob/{job.pk}/change/" in page and "匹配作业" in page
    detail = browser.get(f"/admin/debunk/matchjob/{job.pk}/change/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "item-45" in detail and "&quot;matched&quot;: false" in detail and "webhook-id" in detail
    assert 'name="_save"' not in detail
    assert browser.get("/admin/debunk/matchjob/?q=abc").status_code == 200  # searched by id: text finds nothing
    assert browser.get("/admin/debunk/matchjob/add/").status_code == 403
    assert browser.post(f"/admin/debunk/matchjob/{job.pk}/delete/", {"post": "yes"}).status_code == 403
    assert MatchJob.objects.filter(pk=job.pk).exists()
    index = browser.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    matches = index.split(">Matches</a>", 1)[1].split("</table>", 1)[0]
    assert "/admin/debunk/matchjob/" in matches


# ---- a real worker -------------------------------------------------------------------------------------------------


@pytest.mark.celery_worker
def test_a_real_worker_runs_a_job_and_the_platform_gets_it(seeded_transactional_db, receiver, media, settings):
    claim, png = screenshot_png(3)
    checker = UserFactory(username="checker", roles=["fact-checker"])
    reviewer = UserFactory(username="reviewer", roles=[REVIEWER])
    rumor = publish_rumor(checker, reviewer, claim=claim)
    platform = make_platform()
    endpoint_create(platform=platform, url=receiver.url, secret=receiver.secret, by=operator_user())
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with tasks_to(queue):
        worker = spawn_worker(queue, {"MEDIA_ROOT": str(media), "WEBHOOK_ALLOW_PRIVATE": "1"}, name=f"{queue}-jobs")
        try:
            answer = api_client(make_key(platform)[1]).post(MATCH, {"image": b64(png), "ocr": "later"}, format="json")
            job_id = answer.json()["job_id"]
            assert wait_until(lambda: MatchJobNotice.objects.filter(job_id=job_id, status=DELIVERED).exists(), 180), (
                f"job {MatchJob.objects.get(pk=job_id)} not delivered; see {worker.log.name}"
            )
        finally:
            stop_worker(worker)
    job = MatchJob.objects.get(pk=job_id)
    assert job.status == "done" and job.attempts == 1 and not QueuedTask.objects.exists()
    [arrival] = receiver.received
    [result] = arrival["payload"]["data"]["results"]
    assert [(m["rumor_id"], m["via"]) for m in result["matches"]] == [(rumor.pk, "ocr")]
    assert stored_files(media) == []
