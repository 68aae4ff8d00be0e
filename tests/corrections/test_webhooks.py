"""Webhook delivery: signatures, batching, each class of answer, retries, dead letters, redelivery, the SSRF
guard. Answers come from a real HTTP server on 127.0.0.1 (the webhook sink), never from a mocked HTTP layer."""

# ruff: noqa: F811  (fixtures imported from tests.corrections.delivery_fixtures are arguments by name)

import base64
import hashlib
import hmac
import json
import re
from datetime import timedelta
from email.utils import format_datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from debunk.core.models import AuditEvent
from debunk.core.roles import operator_user
from debunk.corrections import deliveries
from debunk.corrections.models import Correction, Interaction, WebhookDelivery
from debunk.corrections.tasks import deliver_corrections
from debunk.webhooks import services as webhooks
from debunk.webhooks.models import WebhookEndpoint
from tests.corrections.delivery_fixtures import (  # noqa: F401 (pytest fixtures)
    allow_private,
    endpoint,
    make_corrections,
    receiver,
    rumor,
)

SENDING, PENDING, DELIVERED, FAILED = "sending", "pending", "delivered", "failed"


def spec_signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks, written from the spec: base64(HMAC-SHA256(base64-decoded secret, "id.ts.body"))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def prepare_and_send(platform_id: int) -> list[str]:
    return [deliveries.delivery_attempt(delivery_id=d) for d in deliveries.deliveries_prepare(platform_id=platform_id)]


# --- signatures ---------------------------------------------------------------------------------------------


def test_signature_follows_the_spec():
    secret = webhooks.secret_generate()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    body = json.dumps({"data": {"text": "辟谣"}}, ensure_ascii=False).encode()
    headers = webhooks.signature_headers(secret=secret, message_id="msg_1", body=body, timestamp=1_700_000_000)
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == "1700000000"
    assert headers["webhook-signature"] == spec_signature(secret, "msg_1", "1700000000", body)


def test_signature_matches_the_published_test_vector():
    # The example of the Standard Webhooks reference libraries.
    headers = webhooks.signature_headers(
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        message_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        body=b'{"test": 2432232314}',
        timestamp=1614265330,
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sink_refuses_a_bad_signature(receiver):
    body = b'{"data": {"corrections": []}}'
    wrong = webhooks.signature_headers(secret=webhooks.secret_generate(), message_id="msg_x", body=body)
    code, _headers, _text = webhooks.http_post(url=receiver.url, body=body, headers=wrong, timeout=5)
    assert code == 401 and receiver.received == []
    right = webhooks.signature_headers(secret=receiver.secret, message_id="msg_x", body=body)
    assert webhooks.http_post(url=receiver.url, body=body, headers=right, timeout=5)[0] == 200
    assert webhooks.http_post(url=receiver.url, body=body, headers=right, timeout=5)[0] == 200
    assert [r["duplicate"] for r in receiver.received] == [False, True]


# --- batching -----------------------------------------------------------------------------------------------


def test_batches_of_at_most_webhook_batch_strongest_interaction_and_latest_first(settings, platform, rumor, endpoint):
    settings.WEBHOOK_BATCH = 3
    views = make_corrections(platform, rumor, 4, interaction=Interaction.VIEW, prefix="v")
    reposts = make_corrections(platform, rumor, 3, interaction=Interaction.REPOST, prefix="r")
    ids = deliveries.deliveries_prepare(platform_id=platform.pk)
    assert len(ids) == 3
    batches = [list(Correction.objects.filter(delivery_id=d).order_by("pk")) for d in ids]
    assert [len(b) for b in batches] == [3, 3, 1]
    assert {c.pk for c in batches[0]} == {c.pk for c in reposts}
    assert {c.pk for c in batches[1]} == {c.pk for c in views[1:]}  # the three most recent views
    assert {c.pk for c in batches[2]} == {views[0].pk}
    assert set(Correction.objects.values_list("status", flat=True)) == {SENDING}
    assert deliveries.deliveries_prepare(platform_id=platform.pk) == []  # nothing is put in a second delivery
    assert len({d.message_id for d in WebhookDelivery.objects.all()}) == 3


def test_nothing_is_prepared_without_an_active_endpoint(platform, rumor, endpoint):
    make_corrections(platform, rumor, 2)
    webhooks.endpoint_set_active(endpoint=endpoint, active=False, by=operator_user())
    assert deliveries.platforms_with_pending() == []
    assert deliveries.deliveries_prepare(platform_id=platform.pk) == []
    assert set(Correction.objects.values_list("status", flat=True)) == {PENDING}


def test_deferred_and_cancelled_corrections_are_not_sent(platform, rumor, endpoint):
    make_corrections(platform, rumor, 1, status="deferred", prefix="d")
    make_corrections(platform, rumor, 1, status="cancelled", prefix="c")
    assert deliveries.deliveries_prepare(platform_id=platform.pk) == []


# --- answers --------------------------------------------------------------------------------------------------


def test_2xx_delivers_a_signed_batch(platform, rumor, endpoint, receiver):
    corrections = make_corrections(platform, rumor, 5, interaction=Interaction.SHARE)
    assert prepare_and_send(platform.pk) == ["delivered"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DELIVERED, 1, 200)
    assert delivery.delivered_at is not None
    assert set(Correction.objects.values_list("status", flat=True)) == {DELIVERED}
    assert not Correction.objects.filter(delivered_at__isnull=True).exists()
    [arrival] = receiver.received
    assert arrival["webhook_id"] == delivery.message_id
    payload = arrival["payload"]
    assert payload["type"] == "corrections.batch" and payload["data"]["platform"] == platform.code
    items = payload["data"]["corrections"]
    assert [i["id"] for i in items] == [c.pk for c in corrections]
    first = items[0]
    assert (first["kind"], first["rumor_id"], first["interaction"], first["rumor_status"]) == (
        "correction",
        rumor.pk,
        "share",
        "published",
    )
    assert first["user_hash"] == corrections[0].user_hash
    assert first["card"]["rumor_id"] == rumor.pk and first["card"]["debunk"]["title"]
    assert delivery_body_is_deterministic(delivery)


def delivery_body_is_deterministic(delivery: WebhookDelivery) -> bool:
    delivery = WebhookDelivery.objects.select_related("endpoint__platform").get(pk=delivery.pk)
    Correction.objects.filter(delivery=delivery).update(status=SENDING)
    return deliveries.delivery_body(delivery) == deliveries.delivery_body(delivery)


def test_a_duplicate_task_sends_nothing(platform, rumor, endpoint, receiver):
    make_corrections(platform, rumor, 2)
    [delivery_id] = deliveries.deliveries_prepare(platform_id=platform.pk)
    assert deliveries.delivery_attempt(delivery_id=delivery_id) == "delivered"
    assert deliveries.delivery_attempt(delivery_id=delivery_id) == "skipped"
    # A claimed attempt (another worker is sending it) is skipped as well.
    make_corrections(platform, rumor, 1, prefix="x")
    [second] = deliveries.deliveries_prepare(platform_id=platform.pk)
    WebhookDelivery.objects.filter(pk=second).update(next_attempt_at=timezone.now() + timedelta(seconds=30))
    assert deliveries.delivery_attempt(delivery_id=second) == "skipped"
    assert len(receiver.received) == 1


def test_410_disables_the_endpoint_and_requeues_the_corrections(
    django_capture_on_commit_callbacks, settings, platform, rumor, endpoint, receiver
):
    settings.WEBHOOK_BATCH = 2
    make_corrections(platform, rumor, 4)
    first, second = deliveries.deliveries_prepare(platform_id=platform.pk)
    receiver.answer(410)
    assert deliveries.delivery_attempt(delivery_id=first) == "dead"
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "410" in endpoint.disabled_reason
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"dead"}  # the other one too
    assert WebhookDelivery.objects.get(pk=first).last_status_code == 410
    assert list(Correction.objects.values_list("status", "delivery")) == [(PENDING, None)] * 4
    assert deliveries.delivery_attempt(delivery_id=second) == "skipped"
    assert AuditEvent.objects.filter(action="webhook.endpoint.disable").exists()

    receiver.answer(200)  # the platform fixed its receiver; an administrator enables the endpoint again
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.endpoint_set_active(endpoint=endpoint, active=True, by=operator_user())  # kicks delivery (eager here)
    assert set(Correction.objects.values_list("status", flat=True)) == {DELIVERED}
    assert sum(len(r["payload"]["data"]["corrections"]) for r in receiver.received) == 4


def test_429_honours_retry_after(platform, rumor, endpoint, receiver):
    make_corrections(platform, rumor, 1)
    receiver.answer(429, retry_after=120)
    before = timezone.now()
    assert prepare_and_send(platform.pk) == ["retrying"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status_code == 429
    assert before + timedelta(seconds=119) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=121)
    assert Correction.objects.get().status == SENDING


def test_retry_after_parsing_is_bounded():
    now = timezone.now()
    assert webhooks.retry_after("30", now=now) == timedelta(seconds=30)
    in_five_minutes = webhooks.retry_after(format_datetime(now + timedelta(minutes=5), usegmt=True), now=now)
    assert timedelta(seconds=299) <= in_five_minutes <= timedelta(minutes=5)
    assert webhooks.retry_after("0", now=now) == timedelta(seconds=1)
    assert webhooks.retry_after("99999999", now=now) == timedelta(hours=6)
    assert webhooks.retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == timedelta(seconds=1)  # past
    assert webhooks.retry_after("soon", now=now) is None
    assert webhooks.retry_after(None, now=now) is None


def test_500_backs_off_with_jitter_then_the_delivery_is_dead(settings, platform, rumor, endpoint, receiver):
    make_corrections(platform, rumor, 2)
    receiver.answer(500)
    [delivery_id] = deliveries.deliveries_prepare(platform_id=platform.pk)
    before = timezone.now()
    assert deliveries.delivery_attempt(delivery_id=delivery_id) == "retrying"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("retrying", 1, 500)
    assert "answering 500" in delivery.last_response
    assert before + timedelta(seconds=15) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=45)

    # Past the retry window (WEBHOOK_RETRY_HOURS after the delivery was made), the next failure is the last.
    WebhookDelivery.objects.update(
        next_attempt_at=timezone.now(), created_at=timezone.now() - timedelta(hours=settings.WEBHOOK_RETRY_HOURS)
    )
    assert deliveries.delivery_attempt(delivery_id=delivery_id) == "dead"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("dead", 2)
    assert set(Correction.objects.values_list("status", flat=True)) == {FAILED}
    assert len(receiver.received) == 0


def test_the_last_retry_is_at_the_end_of_the_window(settings, platform, rumor, endpoint, receiver):
    make_corrections(platform, rumor, 1)
    receiver.answer(503)
    [delivery_id] = deliveries.deliveries_prepare(platform_id=platform.pk)
    window_end = timezone.now() + timedelta(seconds=5)
    WebhookDelivery.objects.update(created_at=window_end - timedelta(hours=settings.WEBHOOK_RETRY_HOURS))
    assert deliveries.delivery_attempt(delivery_id=delivery_id) == "retrying"
    assert WebhookDelivery.objects.get().next_attempt_at == window_end


@pytest.mark.parametrize("attempts", [1, 2, 5, 10, 30])
def test_backoff_bounds(attempts):
    base = min(30 * 2 ** (attempts - 1), 6 * 3600)
    for _ in range(50):
        assert 0.5 * base <= webhooks.backoff(attempts).total_seconds() <= 1.5 * base


def test_timeouts_and_connection_errors_are_retried(settings, platform, rumor, endpoint, receiver):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    make_corrections(platform, rumor, 1)
    receiver.answer(200, delay=2)
    assert prepare_and_send(platform.pk) == ["retrying"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status_code is None and "timed out" in delivery.last_response.lower()

    receiver.answer(200)
    endpoint.url = "http://127.0.0.1:9/nothing-listens"
    endpoint.save()
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert deliveries.delivery_attempt(delivery_id=delivery.pk) == "retrying"
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and "refused" in delivery.last_response.lower()


def test_redirects_are_not_followed(platform, rumor, endpoint, receiver):
    make_corrections(platform, rumor, 1)
    receiver.answer(302)
    assert prepare_and_send(platform.pk) == ["retrying"]
    assert WebhookDelivery.objects.get().last_status_code == 302


def test_redeliver_a_dead_delivery(
    django_capture_on_commit_callbacks, administrator, settings, platform, rumor, endpoint, receiver
):
    make_corrections(platform, rumor, 3)
    receiver.answer(500)
    [delivery_id] = deliveries.deliveries_prepare(platform_id=platform.pk)
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(hours=settings.WEBHOOK_RETRY_HOURS))
    assert deliveries.delivery_attempt(delivery_id=delivery_id) == "dead"
    delivery = WebhookDelivery.objects.get()
    receiver.answer(200)
    administrator.is_superuser = True
    administrator.save()
    with django_capture_on_commit_callbacks(execute=True):
        deliveries.delivery_redeliver(delivery=delivery, by=administrator)  # on commit: sent (eager)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DELIVERED, 2)
    assert set(Correction.objects.values_list("status", flat=True)) == {DELIVERED}
    assert [r["webhook_id"] for r in receiver.received] == [delivery.message_id]  # the same webhook-id
    assert AuditEvent.objects.filter(action="webhook.delivery.redeliver", actor=administrator).exists()
    with pytest.raises(ValidationError):
        deliveries.delivery_redeliver(delivery=delivery, by=administrator)  # only dead deliveries


def test_corrections_cancelled_meanwhile_are_left_out(platform, rumor, endpoint, receiver):
    kept, cancelled = make_corrections(platform, rumor, 2)
    [delivery_id] = deliveries.deliveries_prepare(platform_id=platform.pk)
    Correction.objects.filter(pk=cancelled.pk).update(status="cancelled")
    assert deliveries.delivery_attempt(delivery_id=delivery_id) == "delivered"
    assert [c["id"] for c in receiver.received[0]["payload"]["data"]["corrections"]] == [kept.pk]
    assert Correction.objects.get(pk=cancelled.pk).status == "cancelled"


def test_an_endpoint_disabled_before_the_attempt_releases_the_delivery(platform, rumor, endpoint, receiver):
    make_corrections(platform, rumor, 2)
    [delivery_id] = deliveries.deliveries_prepare(platform_id=platform.pk)
    type(endpoint).objects.filter(pk=endpoint.pk).update(is_active=False)
    assert deliveries.delivery_attempt(delivery_id=delivery_id) == "released"
    assert list(Correction.objects.values_list("status", "delivery")) == [(PENDING, None)] * 2
    assert receiver.received == []


def test_disabling_keeps_an_attempted_delivery_until_its_next_attempt(platform, rumor, endpoint, receiver):
    """It may be in flight: released by its next attempt, or resumed with the same webhook-id if enabled first."""
    make_corrections(platform, rumor, 2)
    receiver.answer(500)
    [delivery_id] = deliveries.deliveries_prepare(platform_id=platform.pk)
    assert deliveries.delivery_attempt(delivery_id=delivery_id) == "retrying"
    webhooks.endpoint_set_active(endpoint=endpoint, active=False, by=operator_user())
    assert WebhookDelivery.objects.get().status == "retrying"
    webhooks.endpoint_set_active(endpoint=endpoint, active=True, by=operator_user())
    receiver.answer(200)
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert deliveries.delivery_attempt(delivery_id=delivery_id) == "delivered"
    assert [r["webhook_id"] for r in receiver.received] == [WebhookDelivery.objects.get().message_id]

    make_corrections(platform, rumor, 1, prefix="late")
    receiver.answer(500)
    [second] = deliveries.deliveries_prepare(platform_id=platform.pk)
    assert deliveries.delivery_attempt(delivery_id=second) == "retrying"
    webhooks.endpoint_set_active(endpoint=endpoint, active=False, by=operator_user())
    WebhookDelivery.objects.filter(pk=second).update(next_attempt_at=timezone.now())
    assert deliveries.delivery_attempt(delivery_id=second) == "released"
    assert Correction.objects.get(user_hash__startswith="late").status == PENDING


# --- the SSRF guard -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/hook",
        "file:///etc/passwd",
        "http:///nohost",
        "http://127.0.0.1:8000/",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://192.168.0.1/",
    ],
)
def test_private_and_non_http_urls_are_refused(settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError):
        webhooks.endpoint_url_check(url)


def test_public_urls_pass_the_check(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    webhooks.endpoint_url_check("https://hooks.example.org/debunk")
    webhooks.endpoint_url_check("http://93.184.216.34:8080/x")


def test_names_resolving_to_private_addresses_are_refused_when_connecting(settings, platform, rumor, receiver):
    endpoint = webhooks.endpoint_create(platform=platform, url=receiver.url, secret=receiver.secret, by=operator_user())
    settings.WEBHOOK_ALLOW_PRIVATE = False
    port = receiver.sink.server_address[1]
    for url in (receiver.url, f"http://localhost:{port}/hook"):
        with pytest.raises(webhooks.WebhookRefused):
            webhooks.http_post(url=url, body=b"{}", headers={}, timeout=2)
    make_corrections(platform, rumor, 1)
    assert prepare_and_send(platform.pk) == ["retrying"]
    assert "refused" in WebhookDelivery.objects.get(endpoint=endpoint).last_response
    assert receiver.received == []


# --- tasks ----------------------------------------------------------------------------------------------------


def test_beat_task_batches_and_sends(settings, platform, rumor, endpoint, receiver):
    settings.WEBHOOK_BATCH = 10
    make_corrections(platform, rumor, 25)
    assert deliver_corrections.delay().get() == 3  # eager: the prepared deliveries were due, and sent
    assert WebhookDelivery.objects.filter(status=DELIVERED).count() == 3
    assert set(Correction.objects.values_list("status", flat=True)) == {DELIVERED}
    ids = [c["id"] for r in receiver.received for c in r["payload"]["data"]["corrections"]]
    assert len(ids) == len(set(ids)) == 25


def test_kick_sends_after_commit(django_capture_on_commit_callbacks, platform, rumor, endpoint, receiver):
    make_corrections(platform, rumor, 3)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deliveries.deliveries_kick(platform_ids=[platform.pk, platform.pk])
    assert len(callbacks) == 1 and receiver.received == []
    callbacks[0]()
    assert set(Correction.objects.values_list("status", flat=True)) == {DELIVERED}


# --- the admin ------------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, db):
    from tests.factories import UserFactory

    user = UserFactory(username="root", is_superuser=True)
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_admin_creates_an_endpoint_and_shows_its_secret_once(admin_client, platform, allow_private):
    response = admin_client.post(
        reverse("admin:debunk_webhookendpoint_add"),
        {"platform": platform.pk, "url": "https://hooks.example.org/debunk"},
        follow=True,
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    shown = re.findall(r"whsec_[A-Za-z0-9+/=]+", response.content.decode())
    assert shown == [endpoint.secret]
    assert AuditEvent.objects.filter(action="webhook.endpoint.create").exists()
    page = admin_client.get(reverse("admin:debunk_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    assert endpoint.secret not in page
    listing = admin_client.get(reverse("admin:debunk_webhookendpoint_changelist")).content.decode()
    assert endpoint.secret not in listing and "hooks.example.org" in listing


def test_admin_refuses_a_private_endpoint_url(admin_client, platform, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = admin_client.post(
        reverse("admin:debunk_webhookendpoint_add"), {"platform": platform.pk, "url": "http://127.0.0.1:8000/"}
    )
    assert response.status_code == 200 and "Private and loopback" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_admin_disables_and_enables_endpoints(admin_client, platform, endpoint):
    url = reverse("admin:debunk_webhookendpoint_changelist")
    admin_client.post(url, {"action": "disable_selected", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_reason
    admin_client.post(url, {"action": "enable_selected", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.is_active and not endpoint.disabled_reason


def test_admin_delivery_pages_and_redeliver(admin_client, settings, platform, rumor, endpoint, receiver):
    make_corrections(platform, rumor, 2)
    receiver.answer(500)
    [delivery_id] = deliveries.deliveries_prepare(platform_id=platform.pk)
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(hours=settings.WEBHOOK_RETRY_HOURS))
    assert deliveries.delivery_attempt(delivery_id=delivery_id) == "dead"
    listing = admin_client.get(reverse("admin:debunk_webhookdelivery_changelist"), {"status__exact": "dead"})
    assert listing.status_code == 200 and WebhookDelivery.objects.get().message_id in listing.content.decode()
    detail = admin_client.get(reverse("admin:debunk_webhookdelivery_change", args=[delivery_id]))
    assert detail.status_code == 200 and "answering 500" in detail.content.decode()
    assert 'name="_save"' not in detail.content.decode()

    receiver.answer(200)
    response = admin_client.post(
        reverse("admin:debunk_webhookdelivery_changelist"),
        {"action": "redeliver_selected", "_selected_action": [delivery_id]},
        follow=True,
    )
    assert "Queued 1 delivery(ies) again." in response.content.decode()
    assert WebhookDelivery.objects.get().status in ("pending", "delivered")  # sent on commit (eager)


def test_admin_corrections_list_and_summary(admin_client, platform, rumor, endpoint, receiver):
    from debunk.corrections.models import Exposure
    from debunk.matching.models import Match, Post

    post = Post.objects.create(platform=platform, platform_post_id="p1", text=rumor.claim)
    Match.objects.create(post=post, rumor=rumor, similarity=1, containment=1, status="auto")
    for i, interaction in enumerate([Interaction.REPOST, Interaction.VIEW, Interaction.VIEW]):
        Exposure.objects.create(
            platform=platform,
            platform_post_id="p1",
            post=post,
            user_hash=f"e{i}",
            interaction=interaction,
            at=timezone.now(),
        )
    corrections = make_corrections(platform, rumor, 4)
    prepare_and_send(platform.pk)
    Correction.objects.filter(pk=corrections[0].pk).update(status="acknowledged")
    Correction.objects.filter(pk=corrections[1].pk).update(status="clicked")

    listing = admin_client.get(reverse("admin:debunk_correction_changelist"), {"q": str(rumor.pk), "status": "x"})
    assert listing.status_code == 200
    listing = admin_client.get(reverse("admin:debunk_correction_changelist"), {"q": str(rumor.pk)})
    assert listing.status_code == 200 and "4 corrections" in listing.content.decode().replace("\n", " ")
    assert admin_client.get(reverse("admin:debunk_correction_changelist"), {"q": "u0000"}).status_code == 200

    summary = admin_client.get(reverse("admin:debunk_correction_summary"), {"rumor": rumor.pk})
    assert summary.status_code == 200
    [row] = summary.context["rows"]
    assert (row["exposures"], row["exposed_users"], row["users"]) == (3, 3, 4)
    assert (row["delivered"], row["acknowledged"], row["clicked"]) == (4, 2, 1)
    assert admin_client.get(reverse("admin:debunk_correction_summary")).status_code == 200
    assert admin_client.get(reverse("admin:debunk_correction_summary"), {"rumor": "abc"}).status_code == 200
    rumor_page = admin_client.get(reverse("admin:debunk_rumor_change", args=[rumor.pk])).content.decode()
    assert reverse("admin:debunk_correction_summary") + f"?rumor={rumor.pk}" in rumor_page


def test_admin_summary_lists_delivery_failures(admin_client, platform, rumor, endpoint, receiver):
    make_corrections(platform, rumor, 1)
    receiver.answer(503)
    prepare_and_send(platform.pk)
    summary = admin_client.get(reverse("admin:debunk_correction_summary"), {"rumor": rumor.pk})
    assert list(summary.context["failures"]) == list(WebhookDelivery.objects.all())
    assert "answering 503" in summary.content.decode()


def test_fact_checkers_see_the_summary_but_not_endpoints(client, checker, outsider):
    client.force_login(checker)
    assert client.get(reverse("admin:debunk_webhookendpoint_changelist")).status_code == 403
    assert client.get(reverse("admin:debunk_correction_summary")).status_code == 200
    client.force_login(outsider)  # staff without a role
    assert client.get(reverse("admin:debunk_correction_summary")).status_code == 403


def test_create_webhook_endpoint_command_prints_the_secret_once(platform, allow_private):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out, err = StringIO(), StringIO()
    call_command(
        "create_webhook_endpoint", platform=platform.code, url="http://127.0.0.1:9000/hook", stdout=out, stderr=err
    )
    endpoint = WebhookEndpoint.objects.get()
    assert out.getvalue().strip() == endpoint.secret and endpoint.secret not in err.getvalue()
    with pytest.raises(CommandError):
        call_command("create_webhook_endpoint", platform="nope", url="http://127.0.0.1:9000/hook", stdout=out)
    with pytest.raises(CommandError):
        call_command("create_webhook_endpoint", platform=platform.code, url="ftp://x/", stdout=out, stderr=err)


def test_admin_finds_corrections_by_rumor_id_or_user_hash_prefix(admin_client, platform, rumor):
    make_corrections(platform, rumor, 2, prefix="ab")
    make_corrections(platform, rumor, 1, prefix="cd")
    url = reverse("admin:debunk_correction_changelist")
    assert len(admin_client.get(url, {"q": str(rumor.pk)}).context["cl"].result_list) == 3
    assert len(admin_client.get(url, {"q": " AB0000 "}).context["cl"].result_list) == 2
    assert len(admin_client.get(url, {"q": str(rumor.pk + 1)}).context["cl"].result_list) == 0
