"""A broker outage never breaks a publish nor loses its corrections (debunk.core.outbox).

The first test needs no worker: publishing through the admin with nothing listening at the broker's address
answers normally (no 500) and keeps the fan-out in the outbox. The second one runs everything for real (marked
celery_worker; PostgreSQL shared with a worker process): a throwaway redis-server is stopped while a rumor with
exposed users is published through the admin, started again, the outbox swept, and a real Celery worker runs the
re-scan, the fan-out and the webhook deliveries to a real sink: every correction exists once and reaches the sink
in exactly one webhook-id, received once."""

from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from debunk.api.models import Platform
from debunk.core.models import QueuedTask
from debunk.core.roles import FACT_CHECKER, REVIEWER, operator_user
from debunk.corrections.archive import PostReport, posts_ingest
from debunk.corrections.models import Correction, Exposure, WebhookDelivery
from debunk.stock import rumors as rumor_services
from debunk.stock.models import Rumor
from debunk.warning.models import PostMatchNotice
from debunk.webhooks.services import endpoint_create
from tests.celery_worker import spawn_worker, stop_worker, wait_until
from tests.corrections.delivery_fixtures import allow_private, receiver  # noqa: F401 (pytest fixtures)
from tests.factories import UserFactory, make_rumor
from tests.redis_server import celery_broker, free_port, redis_server  # noqa: F401 (pytest fixture)

RUMOR = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
USERS = 45
BATCH = 10  # corrections per delivery: 5 deliveries


def publish_in_admin(client, reviewer, rumor: Rumor):
    client.force_login(reviewer)
    url = reverse("admin:debunk_rumor_changelist")
    return client.post(url, {"action": "publish_selected", "_selected_action": [str(rumor.pk)]})


def submitted_rumor(checker) -> Rumor:
    rumor = make_rumor(checker, claim=RUMOR)
    rumor_services.rumor_submit(rumor=rumor, by=checker)
    return rumor


@pytest.mark.django_db
def test_publishing_in_the_admin_with_the_broker_down_answers_and_keeps_the_work(
    client, checker, reviewer, django_capture_on_commit_callbacks
):
    rumor = submitted_rumor(checker)
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"), django_capture_on_commit_callbacks(execute=True):
        response = publish_in_admin(client, reviewer, rumor)
    assert response.status_code == 302  # not a 500
    rumor.refresh_from_db()
    assert rumor.status == Rumor.Status.PUBLISHED
    kept = list(QueuedTask.objects.values_list("task", "args"))
    assert ("debunk.tasks.rumor_published_task", [rumor.pk]) in kept


@pytest.mark.celery_worker
def test_an_outage_during_a_publish_loses_nothing_and_sends_nothing_twice(
    seeded_transactional_db,
    client,
    redis_server,  # noqa: F811
    receiver,  # noqa: F811
):
    platform = Platform.objects.create(code="weibo", name="Weibo")
    posts_ingest(platform=platform, reports=[PostReport("p1", RUMOR)])  # archived before the rumor is known
    at = timezone.now() - timedelta(hours=1)
    Exposure.objects.bulk_create(
        Exposure(platform=platform, platform_post_id="p1", user_hash=f"{i:064x}", interaction=5, at=at)
        for i in range(USERS)
    )
    Exposure.objects.update(post=platform.posts.get())
    endpoint_create(platform=platform, url=receiver.url, secret=receiver.secret, by=operator_user())
    checker = UserFactory(username="checker", roles=[FACT_CHECKER])
    reviewer = UserFactory(username="reviewer", roles=[REVIEWER])
    rumor = submitted_rumor(checker)

    with celery_broker(redis_server.url) as queue:  # redis_server is not started: the broker is down
        response = publish_in_admin(client, reviewer, rumor)
        assert response.status_code == 302
        rumor.refresh_from_db()
        assert rumor.status == Rumor.Status.PUBLISHED
        kept = list(QueuedTask.objects.values_list("task", "args"))
        assert kept.count(("debunk.tasks.rumor_published_task", [rumor.pk])) == 1, kept
        assert not Correction.objects.exists()

        redis_server.start()  # the broker is back (empty)
        env = {"CELERY_BROKER_URL": redis_server.url, "WEBHOOK_ALLOW_PRIVATE": "1", "WEBHOOK_BATCH": str(BATCH)}
        worker = spawn_worker(queue, env, name=f"{queue}-outage")
        try:
            call_command("outbox_sweep", "--older-than", "0")
            assert not QueuedTask.objects.exists()
            delivered = Correction.Status.DELIVERED
            assert wait_until(lambda: Correction.objects.filter(status=delivered).count() >= USERS, timeout=120), (
                f"{Correction.objects.filter(status=delivered).count()} of {USERS} delivered; see {worker.log.name}"
            )
            # the correction deliveries and the platform's `posts.matched` notice (its post now matches the rumor)
            assert wait_until(lambda: len(receiver.received) >= USERS // BATCH + 2, timeout=30)
            assert wait_until(lambda: PostMatchNotice.objects.filter(status="delivered").exists(), timeout=30)
            call_command("outbox_sweep", "--older-than", "0")  # nothing left to send again
            wait_until(lambda: False, timeout=2)  # a late duplicate would arrive meanwhile
        finally:
            stop_worker(worker)

    per_user = Correction.objects.values("user_hash").annotate(n=Count("pk"))
    assert per_user.count() == USERS and max(r["n"] for r in per_user) == 1
    deliveries = WebhookDelivery.objects.all()
    assert deliveries.count() == USERS // BATCH + 1
    assert set(deliveries.values_list("status", flat=True)) == {WebhookDelivery.Status.DELIVERED}
    arrivals = receiver.received
    assert not any(entry["duplicate"] for entry in arrivals), "a webhook-id reached the sink twice"
    notice = PostMatchNotice.objects.get()
    assert (notice.event, notice.payload["platform_post_ids"]) == ("posts.matched", ["p1"])
    message_ids = [*deliveries.values_list("message_id", flat=True), notice.message_id]
    assert Counter(entry["webhook_id"] for entry in arrivals) == Counter(message_ids)
    corrections = [entry for entry in arrivals if entry["webhook_id"] != notice.message_id]
    sent = Counter(item["id"] for entry in corrections for item in entry["payload"]["data"]["corrections"])
    assert set(sent) == set(Correction.objects.values_list("pk", flat=True)) and set(sent.values()) == {1}
    with open(worker.log.name) as log:
        assert log.read().count(f"archive re-scan rumor={rumor.pk} ") == 1  # the publish's task ran once
