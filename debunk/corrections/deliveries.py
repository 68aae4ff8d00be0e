"""Webhook delivery of corrections, per the Standard Webhooks spec (https://www.standardwebhooks.com/).

Pending corrections of a platform with an active endpoint are put into deliveries of at most WEBHOOK_BATCH
(`deliveries_prepare`); each delivery is one signed POST, retried with exponential backoff and jitter for
WEBHOOK_RETRY_HOURS, then dead-lettered (`delivery_attempt`). A correction belongs to exactly one delivery
and a delivery keeps its `message_id` (the `webhook-id` header) across retries, so a receiver that dedupes
by webhook-id never shows a user the same correction twice, even when a worker dies after a POST.

Guarantees, with Celery's at-least-once tasks:
- `deliveries_prepare` moves corrections `pending → sending` in one transaction per delivery, on rows locked
  with SKIP LOCKED (PostgreSQL): a correction never lands in two deliveries; a killed worker rolls back.
- `delivery_attempt` first claims the delivery with a conditional UPDATE that pushes `next_attempt_at` a
  lease ahead: a duplicate task finds nothing due and does nothing; a worker killed mid-POST leaves the
  delivery due again once the lease ends, and the retry carries the same webhook-id.
"""

import base64
import http.client
import ipaddress
import json
import logging
import random
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks import Webhook

from debunk.api.models import Platform
from debunk.core.audit import audit_record
from debunk.corrections.models import Correction, Exposure, Interaction, WebhookDelivery
from debunk.matching.models import MATCHED_STATUSES
from debunk.public.cards import rumor_card
from debunk.stock.models import Debunk, Rumor
from debunk.webhooks.models import WebhookEndpoint

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
RESPONSE_KEEP = 2048  # characters of a response body (or error) kept on the delivery
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=6)
RETRY_AFTER_MAX = timedelta(hours=6)
USER_AGENT = "Debunk-Webhooks/1"
EVENT_TYPE = "corrections.batch"
OPEN = (WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING)
SENDABLE_KINDS = (Correction.Kind.CORRECTION, Correction.Kind.UPDATE)


class WebhookRefused(Exception):
    """The endpoint URL is not allowed (scheme, or a private address while WEBHOOK_ALLOW_PRIVATE is off)."""


# --- secrets and signatures ---------------------------------------------------------------------------------


def secret_generate() -> str:
    """A new signing secret, `whsec_` + base64 of 32 random bytes, as the spec recommends (24–64 bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signature_headers(*, secret: str, message_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt: the signature is HMAC-SHA256 of `{id}.{ts}.{body}`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = Webhook(secret).sign(
        msg_id=message_id, timestamp=datetime.fromtimestamp(timestamp, tz=UTC), data=body.decode("utf-8")
    )
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


# --- endpoints ----------------------------------------------------------------------------------------------


def endpoint_url_check(url: str) -> None:
    """Refuse what can be refused without DNS: a scheme other than http(s), a missing host, and (unless
    WEBHOOK_ALLOW_PRIVATE) a literal private or loopback address. Resolved names are checked when connecting."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": _("Only http:// and https:// URLs with a host are allowed.")})
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        raise ValidationError({"url": _("Private and loopback addresses are not allowed.")})
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if not _public(address):
        raise ValidationError({"url": _("Private and loopback addresses are not allowed.")})


def endpoint_create(*, platform: Platform, url: str, by: Any, secret: str = "") -> WebhookEndpoint:
    """Create an active endpoint with a new secret (or the given `whsec_…` one); the secret is shown once."""
    if by is not None and not by.has_perm("debunk.add_webhookendpoint"):
        raise PermissionDenied(_("You do not have permission to do this."))
    endpoint_url_check(url)
    secret = secret or secret_generate()
    try:
        Webhook(secret)
    except Exception as exc:  # not base64, or empty
        raise ValidationError({"secret": _("A secret is whsec_ followed by base64.")}) from exc
    endpoint = WebhookEndpoint(platform=platform, url=url, secret=secret)
    with transaction.atomic():
        endpoint.full_clean()
        endpoint.save()
        audit_record(
            actor=by,
            action="webhook.endpoint.create",
            target=endpoint,
            changes={"platform": [None, platform.code], "url": [None, url]},
        )
    return endpoint


def endpoint_set_active(*, endpoint: WebhookEndpoint, active: bool, by: Any, reason: str = "") -> WebhookEndpoint:
    """Enable or disable an endpoint. Enabling resumes deliveries of the platform's pending corrections."""
    if by is not None and not by.has_perm("debunk.change_webhookendpoint"):
        raise PermissionDenied(_("You do not have permission to do this."))
    if endpoint.is_active == active:
        return endpoint
    before = endpoint.is_active
    endpoint.is_active = active
    endpoint.disabled_reason = "" if active else (reason or _("disabled in the admin"))[:200]
    with transaction.atomic():
        endpoint.save(update_fields=["is_active", "disabled_reason"])
        if not active:
            _release_open_deliveries(endpoint_id=endpoint.pk, why=endpoint.disabled_reason)
        audit_record(
            actor=by,
            action="webhook.endpoint.enable" if active else "webhook.endpoint.disable",
            target=endpoint,
            changes={"is_active": [before, active]},
            reason=reason,
        )
    if active:
        deliveries_kick(platform_ids=[endpoint.platform_id])
    return endpoint


def active_endpoint(platform_id: int) -> WebhookEndpoint | None:
    """The platform's endpoint: the newest active one (an older one still active is not used)."""
    active = WebhookEndpoint.objects.filter(platform_id=platform_id, is_active=True)
    return active.order_by("-created_at", "-pk").first()


# --- batching -----------------------------------------------------------------------------------------------


def platforms_with_pending() -> list[int]:
    """Platforms that have pending corrections and an active endpoint."""
    has_endpoint = WebhookEndpoint.objects.filter(platform_id=OuterRef("pk"), is_active=True)
    has_pending = Correction.objects.filter(
        platform_id=OuterRef("pk"), status=Correction.Status.PENDING, kind__in=SENDABLE_KINDS
    )
    return list(
        Platform.objects.filter(Exists(has_endpoint), Exists(has_pending), is_active=True).values_list("pk", flat=True)
    )


def deliveries_prepare(*, platform_id: int, limit: int | None = None) -> list[int]:
    """Put the platform's pending corrections into deliveries of at most WEBHOOK_BATCH, strongest interaction
    (reposters) first, then most recently exposed; returns the new deliveries' ids. Nothing without an active
    endpoint (the pull feed serves the corrections meanwhile). `limit` caps the number of deliveries made."""
    endpoint = active_endpoint(platform_id)
    if endpoint is None or not Platform.objects.filter(pk=platform_id, is_active=True).exists():
        return []
    created: list[int] = []
    while limit is None or len(created) < limit:
        delivery_id = _prepare_one(platform_id=platform_id, endpoint_id=endpoint.pk)
        if delivery_id is None:
            break
        created.append(delivery_id)
    return created


def _prepare_one(*, platform_id: int, endpoint_id: int) -> int | None:
    size = max(1, settings.WEBHOOK_BATCH)
    queue = Correction.objects.filter(
        platform_id=platform_id, status=Correction.Status.PENDING, kind__in=SENDABLE_KINDS
    ).order_by("interaction", "-exposed_at", "pk")
    if connection.features.has_select_for_update_skip_locked:
        queue = queue.select_for_update(skip_locked=True)
    with transaction.atomic():
        ids = list(queue.values_list("pk", flat=True)[:size])
        if not ids:
            return None
        delivery = WebhookDelivery.objects.create(endpoint_id=endpoint_id, message_id=f"msg_{uuid.uuid4().hex}")
        # The status condition keeps a correction out of two deliveries even where rows cannot be locked.
        taken = Correction.objects.filter(pk__in=ids, status=Correction.Status.PENDING).update(
            status=Correction.Status.SENDING, delivery=delivery
        )
        if not taken:
            delivery.delete()
            return None
    logger.info("webhook delivery %s prepared: platform=%s corrections=%d", delivery.message_id, platform_id, taken)
    return delivery.pk


def deliveries_due(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """(id, attempts) of deliveries whose next attempt is due."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(status__in=OPEN, next_attempt_at__lte=now).order_by("next_attempt_at")
    return list(due.values_list("pk", "attempts"))


def deliveries_kick(*, platform_ids: Iterable[int]) -> None:
    """Batch and send the platforms' pending corrections now rather than at the next beat: call it after
    creating corrections; the work is enqueued when the current transaction commits."""
    from debunk.corrections.tasks import prepare_deliveries  # tasks import this module

    for platform_id in sorted(set(platform_ids)):
        transaction.on_commit(lambda pid=platform_id: prepare_deliveries.delay(pid))


# --- the payload ----------------------------------------------------------------------------------------------


def interaction_name(value: int) -> str:
    return Interaction(value).name.lower()


def correction_item(correction: Correction, card: dict[str, Any]) -> dict[str, Any]:
    """One correction as platforms receive it (webhook `data.corrections[]`, and the pull feed)."""
    return {
        "id": correction.pk,
        "kind": correction.kind,
        "revision": correction.revision,
        "rumor_id": correction.rumor_id,
        "rumor_status": correction.rumor.status,
        "user_hash": correction.user_hash,
        "interaction": interaction_name(correction.interaction),
        "exposed_at": correction.exposed_at.isoformat(),
        "card": card,
    }


def cards_for(rumor_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The current debunk card of each rumor (one query for the rumors, one for their debunks)."""
    rumors = Rumor.objects.filter(pk__in=set(rumor_ids)).select_related("verdict", "category")
    rumors = rumors.prefetch_related(Prefetch("debunks", queryset=Debunk.objects.filter(published_at__isnull=False)))
    return {rumor.pk: rumor_card(rumor) for rumor in rumors}


def delivery_body(delivery: WebhookDelivery) -> tuple[bytes, int]:
    """The JSON body of a delivery and its number of corrections: those still `sending` in it (one cancelled
    meanwhile is left out), in id order, serialised deterministically."""
    corrections = list(
        delivery.corrections.filter(status=Correction.Status.SENDING).select_related("rumor").order_by("pk")
    )
    cards = cards_for(c.rumor_id for c in corrections)
    payload = {
        "type": EVENT_TYPE,
        "timestamp": delivery.created_at.isoformat(),
        "data": {
            "delivery": delivery.message_id,
            "platform": delivery.endpoint.platform.code,
            "corrections": [correction_item(c, cards[c.rumor_id]) for c in corrections],
        },
    }
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return body, len(corrections)


# --- HTTP -------------------------------------------------------------------------------------------------------


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _guarded_create_connection(
    address: tuple[str, int], timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT, source_address: Any = None, **_: Any
) -> socket.socket:
    """socket.create_connection that resolves the host once and connects only to allowed addresses (no DNS
    rebinding between the check and the connection)."""
    host, port = address
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE
    error: Exception | None = None
    for family, kind, proto, _name, sockaddr in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        if not allow_private and not _public(ipaddress.ip_address(sockaddr[0].split("%")[0])):
            error = error or WebhookRefused(f"{host} resolves to a private address ({sockaddr[0]})")
            continue
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError(f"{host} did not resolve")


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_create_connection


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_create_connection


def http_post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, dict[str, str], str]:
    """POST without redirects or proxies, to public addresses only (unless WEBHOOK_ALLOW_PRIVATE); returns
    the status, the headers (lower-case names) and the start of the body. Raises OSError,
    http.client.HTTPException or WebhookRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(f"not an http(s) URL: {url[:100]}")
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = _GuardedHTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = _GuardedHTTPConnection(parts.hostname, parts.port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={**headers, "content-type": "application/json", "user-agent": USER_AGENT},
        )
        response = conn.getresponse()
        text = response.read(RESPONSE_KEEP).decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text
    finally:
        conn.close()


# --- attempts ---------------------------------------------------------------------------------------------------


def lease_for() -> timedelta:
    """How long a claimed attempt keeps others off the delivery: longer than a POST can take (connect,
    send, first byte, read: each bounded by the timeout)."""
    return timedelta(seconds=3 * settings.WEBHOOK_TIMEOUT_SECONDS + 5)


def backoff(attempts: int) -> timedelta:
    """Delay before the next attempt after `attempts` failed ones: 30 s doubling, at most 6 h, ±50 % jitter."""
    base = min(BACKOFF_BASE * (2 ** min(max(attempts - 1, 0), 20)), BACKOFF_MAX)
    return base * random.uniform(0.5, 1.5)


def retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """A Retry-After header (seconds or an HTTP date) as a delay between 1 s and 6 h; None if unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        delay = timedelta(seconds=int(value)) if value.isdigit() else parsedate_to_datetime(value) - now
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return min(max(delay, timedelta(seconds=1)), RETRY_AFTER_MAX)


def webhook_send(*, endpoint: WebhookEndpoint, message_id: str, body: bytes) -> tuple[int | None, dict[str, str], str]:
    """Sign and POST one message (corrections, or a sanction notice) to an endpoint: (HTTP status, or None when
    nothing was answered; response headers; the response body or the error, at most RESPONSE_KEEP characters)."""
    headers = signature_headers(secret=endpoint.secret, message_id=message_id, body=body)
    try:
        code, response_headers, text = http_post(
            url=endpoint.url, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS
        )
    except WebhookRefused as exc:
        return None, {}, f"refused: {exc}"[:RESPONSE_KEEP]
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, {}, f"{type(exc).__name__}: {exc}"[:RESPONSE_KEEP]
    return code, response_headers, text[:RESPONSE_KEEP]


def delivery_attempt(*, delivery_id: int) -> str:
    """Send one delivery if it is due; returns what happened: skipped (not due, or claimed by another
    worker), delivered, retrying, dead, released (endpoint disabled: corrections back to pending)."""
    now = timezone.now()
    # The claim counts the attempt: `attempts` is then this attempt's token, and a late result of an attempt
    # whose lease ran out (another worker claimed it since) is not recorded over the newer one.
    claimed = WebhookDelivery.objects.filter(pk=delivery_id, status__in=OPEN, next_attempt_at__lte=now).update(
        next_attempt_at=now + lease_for(), attempts=F("attempts") + 1
    )
    if not claimed:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("endpoint__platform").get(pk=delivery_id)
    endpoint, attempts = delivery.endpoint, delivery.attempts
    if not endpoint.is_active or not endpoint.platform.is_active:
        with transaction.atomic():
            _release(delivery_id=delivery.pk, why=_("endpoint disabled"), attempts=attempts - 1)
        return "released"
    body, count = delivery_body(delivery)
    if count == 0:  # every correction in it was cancelled or acknowledged through the feed meanwhile
        _finish(delivery_id=delivery.pk, attempts=attempts - 1, note=_("nothing left to send"))
        return "delivered"
    code, response_headers, text = webhook_send(endpoint=endpoint, message_id=delivery.message_id, body=body)
    logger.info(
        "webhook %s attempt %d to %s: %s (%d corrections)",
        delivery.message_id,
        attempts,
        endpoint.url,
        code if code is not None else text[:200],
        count,
    )
    if code is not None and 200 <= code < 300:
        _finish(delivery_id=delivery.pk, attempts=attempts, code=code, note=text)
        return "delivered"
    if code == 410:
        with transaction.atomic():
            reason = _("410 Gone at %(time)s") % {"time": timezone.now().isoformat(timespec="seconds")}
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False, disabled_reason=reason)
            audit_record(
                actor=None,
                action="webhook.endpoint.disable",
                target=endpoint,
                changes={"is_active": [True, False]},
                reason=reason,
            )
            _release(delivery_id=delivery.pk, why=text, attempts=attempts, code=code)
            _release_open_deliveries(endpoint_id=endpoint.pk, why=reason)
        return "dead"
    return _fail(delivery=delivery, attempts=attempts, code=code, text=text, headers=response_headers)


def _finish(*, delivery_id: int, attempts: int, code: int | None = None, note: str = "") -> None:
    now = timezone.now()
    with transaction.atomic():
        # A success counts even if the lease ran out and another attempt is on its way: same webhook-id.
        WebhookDelivery.objects.filter(pk=delivery_id, status__in=OPEN).update(
            status=WebhookDelivery.Status.DELIVERED,
            attempts=attempts,
            delivered_at=now,
            last_status_code=code,
            last_response=note,
        )
        Correction.objects.filter(delivery_id=delivery_id, status=Correction.Status.SENDING).update(
            status=Correction.Status.DELIVERED, delivered_at=now
        )


def _fail(*, delivery: WebhookDelivery, attempts: int, code: int | None, text: str, headers: dict[str, str]) -> str:
    now = timezone.now()
    deadline = delivery.created_at + timedelta(hours=settings.WEBHOOK_RETRY_HOURS)
    delay = (retry_after(headers.get("retry-after"), now=now) if code == 429 else None) or backoff(attempts)
    still_ours = WebhookDelivery.objects.filter(pk=delivery.pk, status__in=OPEN, attempts=attempts)
    fields = {"last_status_code": code, "last_response": text}
    if now >= deadline:
        with transaction.atomic():
            if still_ours.update(status=WebhookDelivery.Status.DEAD, **fields):
                Correction.objects.filter(delivery_id=delivery.pk, status=Correction.Status.SENDING).update(
                    status=Correction.Status.FAILED
                )
        logger.warning("webhook %s dead after %d attempts: %s", delivery.message_id, attempts, text[:200])
        return "dead"
    still_ours.update(status=WebhookDelivery.Status.RETRYING, next_attempt_at=min(now + delay, deadline), **fields)
    return "retrying"


def _release(
    *, delivery_id: int, why: str, attempts: int | None = None, code: int | None = None, unsent_only: bool = False
) -> None:
    """Dead-letter a delivery whose endpoint is gone and put its corrections back in the queue (pull feed, or a
    later endpoint). `unsent_only`: only if no attempt was ever claimed. Call inside a transaction."""
    fields: dict[str, Any] = {"status": WebhookDelivery.Status.DEAD, "last_response": why[:RESPONSE_KEEP]}
    if attempts is not None:
        fields["attempts"] = attempts
    if code is not None:
        fields["last_status_code"] = code
    release = WebhookDelivery.objects.filter(pk=delivery_id, status__in=OPEN)
    if unsent_only:
        release = release.filter(attempts=0)
    if release.update(**fields):
        Correction.objects.filter(delivery_id=delivery_id, status=Correction.Status.SENDING).update(
            status=Correction.Status.PENDING, delivery=None
        )


def _release_open_deliveries(*, endpoint_id: int, why: str) -> None:
    """Release at once the endpoint's deliveries never attempted. One attempted already may be in flight right
    now (and succeed): it is released by its next attempt, which finds the endpoint disabled; if the endpoint
    is enabled before that, it simply goes on, with the same webhook-id."""
    unsent = WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status__in=OPEN, attempts=0)
    for delivery_id in unsent.values_list("pk", flat=True):
        _release(delivery_id=delivery_id, why=why, unsent_only=True)


def delivery_redeliver(*, delivery: WebhookDelivery, by: Any) -> WebhookDelivery:
    """Send a dead delivery again, at once, with the same webhook-id: its failed corrections go back into it.
    Its retry window is over, so this is one attempt; if it fails the delivery is dead again. A delivery
    released by a 410 has nothing to resend (its corrections went back to the queue)."""
    if by is not None and not by.has_perm("debunk.change_webhookdelivery"):
        raise PermissionDenied(_("You do not have permission to do this."))
    if delivery.status != WebhookDelivery.Status.DEAD:
        raise ValidationError(_("Only a dead delivery can be sent again."))
    if not delivery.corrections.filter(status=Correction.Status.FAILED).exists():
        raise ValidationError(_("Nothing to send again: its corrections were put back in the queue."))
    if not WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, is_active=True).exists():
        raise ValidationError(_("Its endpoint is disabled: enable it first."))
    now = timezone.now()
    with transaction.atomic():
        updated = WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.DEAD).update(
            status=WebhookDelivery.Status.PENDING, next_attempt_at=now
        )
        if not updated:
            raise ValidationError(_("Only a dead delivery can be sent again."))
        moved = Correction.objects.filter(delivery_id=delivery.pk, status=Correction.Status.FAILED).update(
            status=Correction.Status.SENDING
        )
        audit_record(
            actor=by,
            action="webhook.delivery.redeliver",
            target=delivery,
            changes={"status": [WebhookDelivery.Status.DEAD, WebhookDelivery.Status.PENDING], "corrections": moved},
        )
        transaction.on_commit(lambda: _enqueue(delivery.pk))
    delivery.refresh_from_db()
    return delivery


def _enqueue(delivery_id: int) -> None:
    from debunk.corrections.tasks import deliver

    deliver.delay(delivery_id)


# --- the pull feed and acknowledgements ---------------------------------------------------------------------------

MAX_ACK = 1_000
FEED_STATUSES = [s for s in Correction.Status.values if s != Correction.Status.DEFERRED]
ACK_STATUSES = [Correction.Status.DELIVERED, Correction.Status.ACKNOWLEDGED, Correction.Status.CLICKED]
_ACK_RANK = {status: rank for rank, status in enumerate(ACK_STATUSES, start=1)}
_ACK_FIELD = {
    Correction.Status.DELIVERED: "delivered_at",
    Correction.Status.ACKNOWLEDGED: "acknowledged_at",
    Correction.Status.CLICKED: "clicked_at",
}


class AckItem(NamedTuple):
    id: int
    status: str
    at: datetime | None = None


def corrections_feed(*, platform_id: int, status: str | None = None) -> QuerySet[Correction]:
    """A platform's corrections for the pull feed (deferred ones are not due yet), in id order."""
    corrections = Correction.objects.filter(platform_id=platform_id).select_related("rumor")
    if status:
        return corrections.filter(status=status)
    return corrections.exclude(status=Correction.Status.DEFERRED)


def feed_items(corrections: list[Correction]) -> list[dict[str, Any]]:
    """Feed items: the webhook item plus the correction's status and times."""
    cards = cards_for(c.rumor_id for c in corrections)

    def stamp(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return [
        {
            **correction_item(c, cards[c.rumor_id]),
            "status": c.status,
            "delivered_at": stamp(c.delivered_at),
            "acknowledged_at": stamp(c.acknowledged_at),
            "clicked_at": stamp(c.clicked_at),
        }
        for c in corrections
    ]


def corrections_ack(*, platform_id: int, items: list[AckItem]) -> list[dict[str, Any]]:
    """Record what a platform reports of its corrections; one result per item, in order. A status only moves
    forward (delivered → acknowledged → clicked; a repeat or a step back changes nothing), so reports can be
    sent again safely. Another platform's id answers "not found", as an unknown one does."""
    now = timezone.now()
    results: list[dict[str, Any]] = []
    fields = ["status", "delivered_at", "acknowledged_at", "clicked_at"]
    with transaction.atomic():
        found = {
            c.pk: c
            for c in Correction.objects.select_for_update()
            .filter(platform_id=platform_id, pk__in={item.id for item in items})
            .only("pk", "platform_id", *fields)
        }
        changed: dict[int, Correction] = {}
        for item in items:
            correction = found.get(item.id)
            if correction is None:
                results.append({"id": item.id, "error": {"id": [_("Not found.")]}})
                continue
            if correction.status == Correction.Status.CANCELLED:
                results.append({"id": item.id, "error": {"status": [_("This correction was cancelled.")]}})
                continue
            if correction.status == Correction.Status.DEFERRED:
                results.append({"id": item.id, "error": {"status": [_("This correction is not due yet.")]}})
                continue
            target = _ACK_RANK[item.status]
            if target > _ACK_RANK.get(correction.status, 0):
                at = min(item.at or now, now)
                for status in ACK_STATUSES[:target]:  # clicked implies shown and delivered
                    if getattr(correction, _ACK_FIELD[status]) is None:
                        setattr(correction, _ACK_FIELD[status], at)
                correction.status = item.status
                changed[correction.pk] = correction
            results.append({"id": item.id, "status": correction.status})
        Correction.objects.bulk_update(changed.values(), fields)
    return results


# --- the admin's summary ------------------------------------------------------------------------------------------

DELIVERED_OR_LATER = [Correction.Status.DELIVERED, Correction.Status.ACKNOWLEDGED, Correction.Status.CLICKED]
WAITING = [Correction.Status.PENDING, Correction.Status.DEFERRED, Correction.Status.SENDING]


def corrections_summary(*, rumor_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Per rumor and platform: exposures (to posts matched to the rumor), users to correct, corrections
    delivered, acknowledged (shown), clicked, waiting, failed, cancelled, and updates. Without `rumor_id`: the
    `limit` rumors with the most recent corrections."""
    if rumor_id is not None:
        rumor_ids = [rumor_id]
    else:
        recent = Correction.objects.values("rumor_id").annotate(last=Max("created_at")).order_by("-last")[:limit]
        rumor_ids = [row["rumor_id"] for row in recent]
    rows: dict[tuple[int, int], dict[str, Any]] = {}

    def row(rumor: int, platform: int) -> dict[str, Any]:
        return rows.setdefault(
            (rumor, platform),
            {"rumor_id": rumor, "platform_id": platform, "exposures": 0, "exposed_users": 0, "users": 0}
            | {name: 0 for name in ("delivered", "acknowledged", "clicked", "waiting", "failed", "cancelled")}
            | {"updates": 0},
        )

    exposures = (
        Exposure.objects.filter(post__matches__rumor_id__in=rumor_ids, post__matches__status__in=MATCHED_STATUSES)
        .values("post__matches__rumor_id", "platform_id")
        .annotate(exposures=Count("pk", distinct=True), exposed_users=Count("user_hash", distinct=True))
    )
    for found in exposures:
        row(found["post__matches__rumor_id"], found["platform_id"]).update(
            exposures=found["exposures"], exposed_users=found["exposed_users"]
        )
    correction = Q(kind=Correction.Kind.CORRECTION)
    counts = (
        Correction.objects.filter(rumor_id__in=rumor_ids)
        .values("rumor_id", "platform_id")
        .annotate(
            users=Count("user_hash", filter=correction & ~Q(status=Correction.Status.CANCELLED), distinct=True),
            delivered=Count("pk", filter=correction & Q(status__in=DELIVERED_OR_LATER)),
            acknowledged=Count(
                "pk", filter=correction & Q(status__in=[Correction.Status.ACKNOWLEDGED, Correction.Status.CLICKED])
            ),
            clicked=Count("pk", filter=correction & Q(status=Correction.Status.CLICKED)),
            waiting=Count("pk", filter=Q(status__in=WAITING)),
            failed=Count("pk", filter=Q(status=Correction.Status.FAILED)),
            cancelled=Count("pk", filter=Q(status=Correction.Status.CANCELLED)),
            updates=Count("pk", filter=Q(kind=Correction.Kind.UPDATE)),
        )
    )
    for found in counts:
        row(found.pop("rumor_id"), found.pop("platform_id")).update(found)
    rumors = Rumor.objects.in_bulk({key[0] for key in rows})
    platforms = Platform.objects.in_bulk({key[1] for key in rows})
    order = {pk: position for position, pk in enumerate(rumor_ids)}
    result = sorted(rows.values(), key=lambda r: (order.get(r["rumor_id"], 0), platforms[r["platform_id"]].name))
    for entry in result:
        entry["rumor"], entry["platform"] = rumors[entry["rumor_id"]], platforms[entry["platform_id"]]
    return result


def delivery_failures(*, rumor_id: int | None = None, limit: int = 50) -> QuerySet[WebhookDelivery]:
    """Deliveries retrying or dead (of corrections of the rumor, if given), newest first, with their endpoint."""
    failures = WebhookDelivery.objects.filter(
        Q(status=WebhookDelivery.Status.RETRYING) | Q(status=WebhookDelivery.Status.DEAD)
    ).select_related("endpoint__platform")
    if rumor_id is not None:
        failures = failures.filter(pk__in=Correction.objects.filter(rumor_id=rumor_id).values("delivery_id"))
    return failures.order_by("-created_at", "-pk")[:limit]
