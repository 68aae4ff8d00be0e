"""Signed webhooks to the platforms, per the Standard Webhooks spec (https://www.standardwebhooks.com/): secrets
and signatures, endpoints, the guarded HTTP client, backoff and Retry-After, and the one attempt loop over the
outbox rows (OutboxMessage) that correction deliveries, sanction notices and match job notices all are.

Each kind of outbox row (an `OutboxKind`) says what it sends and what follows a success, a dead letter or a
gone endpoint; `outbox_attempt` does the rest, alike for every kind:
- it first claims the row with a conditional UPDATE that pushes `next_attempt_at` a lease ahead and counts the
  attempt: a duplicate task finds nothing due and does nothing; a worker killed mid-POST leaves the row due
  again once the lease ends, and the retry carries the same webhook-id;
- 2xx: delivered (a success counts even if the lease ran out meanwhile: same webhook-id);
- 410 Gone: the endpoint is disabled (audited) and the kind decides what becomes of its rows;
- 429: the next attempt waits for Retry-After (at most 6 h); other failures: exponential backoff with jitter;
- past WEBHOOK_RETRY_HOURS: dead letter.
"""

import base64
import http.client
import ipaddress
import logging
import random
import secrets
import socket
import ssl
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from standardwebhooks import Webhook

from debunk.api.models import Platform
from debunk.core.audit import audit_record
from debunk.core.roles import require_perm
from debunk.webhooks.models import OutboxMessage, WebhookEndpoint

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
RESPONSE_KEEP = 2048  # characters of a response body (or error) kept on the row
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=6)
RETRY_AFTER_MAX = timedelta(hours=6)
USER_AGENT = "Debunk-Webhooks/1"
OPEN = (OutboxMessage.Status.PENDING, OutboxMessage.Status.RETRYING)
# The kinds of outbox rows, told when an endpoint is disabled or enabled (imported when needed: they import this).
OUTBOX_KINDS = [
    "debunk.corrections.deliveries.DELIVERIES",
    "debunk.sanctions.services.NOTICES",
    "debunk.images.jobs.NOTICES",
    "debunk.reports.notices.NOTICES",
    "debunk.warning.alerts.NOTICES",
    "debunk.warning.post_notices.NOTICES",
]


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
    """Create an active endpoint with a new secret (or the given `whsec_…` one); the secret is shown once. What
    waited for an endpoint of the platform is sent now."""
    require_perm(by, "debunk.add_webhookendpoint")
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
        for kind in _kinds():  # what waited for an endpoint goes now
            kind.endpoint_enabled(platform.pk)
        audit_record(
            actor=by,
            action="webhook.endpoint.create",
            target=endpoint,
            changes={"platform": [None, platform.code], "url": [None, url]},
        )
    return endpoint


def endpoint_set_active(*, endpoint: WebhookEndpoint, active: bool, by: Any, reason: str = "") -> WebhookEndpoint:
    """Enable or disable an endpoint; every kind of outbox row is told (enabling resumes what waited for one)."""
    require_perm(by, "debunk.change_webhookendpoint")
    if endpoint.is_active == active:
        return endpoint
    before = endpoint.is_active
    endpoint.is_active = active
    endpoint.disabled_reason = "" if active else (reason or _("disabled in the admin"))[:200]
    with transaction.atomic():
        endpoint.save(update_fields=["is_active", "disabled_reason"])
        for kind in _kinds():
            if active:
                kind.endpoint_enabled(endpoint.platform_id)
            else:
                kind.endpoint_disabled(endpoint.pk, endpoint.disabled_reason)
        audit_record(
            actor=by,
            action="webhook.endpoint.enable" if active else "webhook.endpoint.disable",
            target=endpoint,
            changes={"is_active": [before, active]},
            reason=reason,
        )
    return endpoint


def active_endpoint(platform_id: int) -> WebhookEndpoint | None:
    """The platform's endpoint: the newest active one (an older one still active is not used)."""
    active = WebhookEndpoint.objects.filter(platform_id=platform_id, is_active=True)
    return active.order_by("-created_at", "-pk").first()


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
    """Sign and POST one message (corrections, a sanction or match job notice) to an endpoint: (HTTP status, or None
    when nothing was answered; response headers; the response body or the error, at most RESPONSE_KEEP characters)."""
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


# --- the attempt loop -------------------------------------------------------------------------------------------


class OutboxKind:
    """One kind of outbox row; `outbox_attempt` calls these hooks. The defaults suit a row addressed to its
    platform's current endpoint (a `platform` field), like a sanction notice."""

    model: type[OutboxMessage]
    name = "webhook"  # in log lines
    select_related: tuple[str, ...] = ()

    def endpoint(self, message: Any) -> WebhookEndpoint | None:
        """Where to send the row now; None when there is no usable endpoint."""
        return active_endpoint(message.platform_id)

    def without_endpoint(self, message: Any, attempts: int) -> str:
        """No usable endpoint: by default wait an hour (the attempt is not counted); the platform can read the
        API meanwhile, and enabling an endpoint makes the row due again (`endpoint_enabled`)."""
        self.model.objects.filter(pk=message.pk, attempts=attempts).update(
            attempts=attempts - 1,
            next_attempt_at=timezone.now() + timedelta(hours=1),
            last_response="no active endpoint",
        )
        return "waiting"

    def body(self, message: Any) -> bytes | None:
        """The exact bytes to POST; None when nothing is left to send (the row is then done)."""
        raise NotImplementedError

    def delivered(self, message_id: int, now: datetime) -> None:
        """After the row was marked delivered, in the same transaction."""

    def dead(self, message_id: int) -> None:
        """After the row was dead-lettered (retry window over), in the same transaction."""

    def endpoint_gone(self, message: Any, attempts: int, code: int, text: str) -> str:
        """The endpoint answered 410 and was disabled: by default the row waits for a new endpoint."""
        self.model.objects.filter(pk=message.pk, status__in=OPEN, attempts=attempts).update(
            status=OutboxMessage.Status.RETRYING,
            next_attempt_at=timezone.now(),
            last_status_code=code,
            last_response=text[:RESPONSE_KEEP],
        )
        return "waiting"

    def endpoint_disabled(self, endpoint_id: int, why: str) -> None:
        """An endpoint was disabled (in the admin, or by a 410), inside that transaction."""

    def endpoint_enabled(self, platform_id: int) -> None:
        """An endpoint of the platform was enabled: by default its open rows become due now."""
        self.model.objects.filter(platform_id=platform_id, status__in=OPEN).update(next_attempt_at=timezone.now())


def _kinds() -> list[OutboxKind]:
    return [import_string(path) for path in OUTBOX_KINDS]


def outbox_attempt(*, kind: OutboxKind, message_id: int) -> str:
    """Send one outbox row if it is due; returns what happened: skipped (not due, or claimed by another worker),
    delivered, retrying, dead, or what the kind answers without an endpoint or after a 410 (waiting, released)."""
    model = kind.model
    now = timezone.now()
    # The claim counts the attempt: `attempts` is then this attempt's token, and a late result of an attempt
    # whose lease ran out (another worker claimed it since) is not recorded over the newer one.
    claimed = model.objects.filter(pk=message_id, status__in=OPEN, next_attempt_at__lte=now).update(
        next_attempt_at=now + lease_for(), attempts=F("attempts") + 1
    )
    if not claimed:
        return "skipped"
    message = model.objects.select_related(*kind.select_related).get(pk=message_id)
    attempts = message.attempts
    endpoint = kind.endpoint(message)
    if endpoint is None:
        return kind.without_endpoint(message, attempts)
    body = kind.body(message)
    if body is None:  # nothing left to send (e.g. every correction in it was acknowledged through the feed)
        _delivered(kind=kind, message_id=message.pk, attempts=attempts - 1, note=_("nothing left to send"))
        return "delivered"
    code, headers, text = webhook_send(endpoint=endpoint, message_id=message.message_id, body=body)
    logger.info(
        "%s %s attempt %d to %s: %s (%d bytes)",
        kind.name,
        message.message_id,
        attempts,
        endpoint.url,
        code if code is not None else text[:200],
        len(body),
    )
    if code is not None and 200 <= code < 300:
        _delivered(kind=kind, message_id=message.pk, attempts=attempts, code=code, note=text)
        return "delivered"
    if code == 410:
        with transaction.atomic():
            endpoint_gone(endpoint=endpoint)
            return kind.endpoint_gone(message, attempts, code, text)
    return _failed(kind=kind, message=message, attempts=attempts, code=code, text=text, headers=headers)


def _delivered(*, kind: OutboxKind, message_id: int, attempts: int, code: int | None = None, note: str = "") -> None:
    now = timezone.now()
    with transaction.atomic():
        # A success counts even if the lease ran out and another attempt is on its way: same webhook-id.
        done = kind.model.objects.filter(pk=message_id, status__in=OPEN).update(
            status=OutboxMessage.Status.DELIVERED,
            attempts=attempts,
            delivered_at=now,
            last_status_code=code,
            last_response=note[:RESPONSE_KEEP],
        )
        if done:
            kind.delivered(message_id, now)


def _failed(*, kind: OutboxKind, message: Any, attempts: int, code: int | None, text: str, headers: dict) -> str:
    now = timezone.now()
    deadline = message.created_at + timedelta(hours=settings.WEBHOOK_RETRY_HOURS)
    delay = (retry_after(headers.get("retry-after"), now=now) if code == 429 else None) or backoff(attempts)
    still_ours = kind.model.objects.filter(pk=message.pk, status__in=OPEN, attempts=attempts)
    fields = {"last_status_code": code, "last_response": text[:RESPONSE_KEEP]}
    if now >= deadline:
        with transaction.atomic():
            if still_ours.update(status=OutboxMessage.Status.DEAD, **fields):
                kind.dead(message.pk)
        logger.warning("%s %s dead after %d attempts: %s", kind.name, message.message_id, attempts, text[:200])
        return "dead"
    still_ours.update(status=OutboxMessage.Status.RETRYING, next_attempt_at=min(now + delay, deadline), **fields)
    return "retrying"


def endpoint_gone(*, endpoint: WebhookEndpoint) -> None:
    """The endpoint answered 410 Gone: disable it (audited) and tell every kind of outbox row. Call inside a
    transaction."""
    reason = _("410 Gone at %(time)s") % {"time": timezone.now().isoformat(timespec="seconds")}
    if not WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_reason=reason
    ):
        return  # disabled already (by another attempt's 410, or in the admin)
    audit_record(
        actor=None,
        action="webhook.endpoint.disable",
        target=endpoint,
        changes={"is_active": [True, False]},
        reason=reason,
    )
    for kind in _kinds():
        kind.endpoint_disabled(endpoint.pk, reason)
