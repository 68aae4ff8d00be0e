"""Sanction notices go through the one webhook attempt loop (debunk.webhooks.services.outbox_attempt), as
correction deliveries do: signed, retried with backoff, 429 honours Retry-After, 410 disables the endpoint and
the notice waits for a new one. Answers come from a real HTTP server on 127.0.0.1 (the webhook sink)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from debunk.core.models import AuditEvent
from debunk.core.roles import operator_user
from debunk.sanctions import services as svc
from debunk.sanctions.models import SanctionNotice
from debunk.webhooks import services as webhooks
from debunk.webhooks.models import WebhookEndpoint
from tests.corrections.delivery_fixtures import allow_private, receiver  # noqa: F401 (pytest fixtures)
from tests.sanctions.conftest import account, trace_with_origin

pytestmark = pytest.mark.django_db


@pytest.fixture
def notice(rumor, platform_a, checker, reviewer) -> SanctionNotice:
    trace_with_origin(rumor, platform_a, account("a"), subtree_size=10)
    warning = svc.sanction_recommend(rumor=rumor, platform=platform_a, author_hash=account("a"), by=checker)
    svc.sanction_apply(sanction=warning, by=reviewer)
    return SanctionNotice.objects.get()


@pytest.fixture
def endpoint(platform_a, receiver) -> WebhookEndpoint:  # noqa: F811
    return webhooks.endpoint_create(platform=platform_a, url=receiver.url, secret=receiver.secret, by=operator_user())


def due_now(notice: SanctionNotice) -> None:
    SanctionNotice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now())


def test_a_notice_is_signed_retried_and_delivered_once(notice, endpoint, receiver):  # noqa: F811
    receiver.answer(500)
    assert svc.notice_attempt(notice_id=notice.pk) == "retrying"
    assert svc.notice_attempt(notice_id=notice.pk) == "skipped"  # not due yet
    notice.refresh_from_db()
    assert notice.status == SanctionNotice.Status.RETRYING and notice.last_status_code == 500
    assert receiver.received == []
    receiver.answer(204)
    due_now(notice)
    assert svc.notice_attempt(notice_id=notice.pk) == "delivered"
    assert svc.notice_attempt(notice_id=notice.pk) == "skipped"  # delivered: never sent again
    notice.refresh_from_db()
    assert notice.status == SanctionNotice.Status.DELIVERED and notice.attempts == 2
    # the sink verified the signature (it answers 401 otherwise) and got the notice once, with its webhook-id
    assert [r["webhook_id"] for r in receiver.received] == [notice.message_id]
    assert receiver.received[0]["payload"]["data"]["sanction"]["id"] == notice.sanction_id


def test_a_notice_waits_for_an_endpoint_and_goes_when_one_is_created(notice, platform_a, receiver):  # noqa: F811
    assert svc.notice_attempt(notice_id=notice.pk) == "waiting"
    notice.refresh_from_db()
    assert notice.status == SanctionNotice.Status.PENDING and notice.attempts == 0
    assert notice.next_attempt_at > timezone.now() + timedelta(minutes=50)
    webhooks.endpoint_create(platform=platform_a, url=receiver.url, secret=receiver.secret, by=operator_user())
    assert svc.notice_attempt(notice_id=notice.pk) == "delivered"  # due again at once
    assert [r["webhook_id"] for r in receiver.received] == [notice.message_id]


def test_429_waits_for_retry_after(notice, endpoint, receiver):  # noqa: F811
    receiver.answer(429, retry_after=600)  # far above the first backoff (30 s ± 50 %)
    before = timezone.now()
    assert svc.notice_attempt(notice_id=notice.pk) == "retrying"
    notice.refresh_from_db()
    assert notice.last_status_code == 429 and notice.status == SanctionNotice.Status.RETRYING
    wait = notice.next_attempt_at - before
    assert timedelta(seconds=595) <= wait <= timedelta(seconds=605), wait


def test_410_disables_the_endpoint_and_the_notice_waits_for_a_new_one(notice, endpoint, receiver, platform_a):  # noqa: F811
    receiver.answer(410)
    assert svc.notice_attempt(notice_id=notice.pk) == "waiting"
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "410 Gone" in endpoint.disabled_reason
    assert AuditEvent.objects.filter(action="webhook.endpoint.disable", target_id=str(endpoint.pk)).count() == 1
    notice.refresh_from_db()
    assert notice.status == SanctionNotice.Status.RETRYING and notice.last_status_code == 410
    assert svc.notice_attempt(notice_id=notice.pk) == "waiting"  # no active endpoint now: not sent to the old one
    assert receiver.received == []
    receiver.answer(200)
    new = webhooks.endpoint_create(platform=platform_a, url=receiver.url, secret=receiver.secret, by=operator_user())
    assert svc.notice_attempt(notice_id=notice.pk) == "delivered"
    notice.refresh_from_db()
    assert notice.status == SanctionNotice.Status.DELIVERED and new.is_active
    assert [r["webhook_id"] for r in receiver.received] == [notice.message_id]  # same webhook-id throughout


def test_a_notice_past_the_retry_window_is_dead(notice, endpoint, receiver, settings):  # noqa: F811
    receiver.answer(503)
    SanctionNotice.objects.filter(pk=notice.pk).update(created_at=timezone.now() - timedelta(hours=73))
    assert svc.notice_attempt(notice_id=notice.pk) == "dead"
    notice.refresh_from_db()
    assert notice.status == SanctionNotice.Status.DEAD and notice.last_status_code == 503
    assert svc.notice_attempt(notice_id=notice.pk) == "skipped"
