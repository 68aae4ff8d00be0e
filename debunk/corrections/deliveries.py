"""Webhook delivery of corrections: batching, the payload, the pull feed and acknowledgements, the summary.

Pending corrections of a platform with an active endpoint are put into deliveries of at most WEBHOOK_BATCH
(`deliveries_prepare`); each delivery is one signed POST, sent and retried by the one webhook attempt loop
(debunk.webhooks.services.outbox_attempt) until delivered or dead. A correction belongs to exactly one delivery
and a delivery keeps its `message_id` (the `webhook-id` header) across retries, so a receiver that dedupes by
webhook-id never shows a user the same correction twice, even when a worker dies after a POST.

`deliveries_prepare` moves corrections `pending → sending` in one transaction per delivery, on rows locked with
SKIP LOCKED (PostgreSQL): a correction never lands in two deliveries; a killed worker rolls back. An endpoint
disabled (or gone: 410) puts the corrections of its deliveries back in the queue (pull feed, or a later endpoint).
"""

import json
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from debunk.api.models import Platform
from debunk.core.audit import audit_record
from debunk.core.outbox import enqueue
from debunk.core.roles import require_perm
from debunk.corrections.models import Correction, Exposure, Interaction, WebhookDelivery
from debunk.matching.models import MATCHED_STATUSES
from debunk.public.cards import rumor_card
from debunk.stock.models import Debunk, Rumor
from debunk.webhooks.models import WebhookEndpoint
from debunk.webhooks.services import OPEN, RESPONSE_KEEP, OutboxKind, active_endpoint, outbox_attempt

logger = logging.getLogger(__name__)

EVENT_TYPE = "corrections.batch"
SENDABLE_KINDS = (Correction.Kind.CORRECTION, Correction.Kind.UPDATE)


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
    creating corrections; the work is queued (outbox) when the current transaction commits."""
    from debunk.corrections.tasks import prepare_deliveries  # tasks import this module

    for platform_id in sorted(set(platform_ids)):
        enqueue(prepare_deliveries, platform_id)


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


# --- attempts (the loop itself is debunk.webhooks.services.outbox_attempt) ---------------------------------------


class CorrectionDeliveries(OutboxKind):
    """A delivery goes to the endpoint it was made for; when that endpoint is disabled or gone, the delivery is
    dead-lettered and its corrections go back to the queue (pull feed, or a later endpoint)."""

    model = WebhookDelivery
    name = "webhook delivery"
    select_related = ("endpoint__platform",)

    def endpoint(self, message: WebhookDelivery) -> WebhookEndpoint | None:
        endpoint = message.endpoint
        return endpoint if endpoint.is_active and endpoint.platform.is_active else None

    def without_endpoint(self, message: WebhookDelivery, attempts: int) -> str:
        with transaction.atomic():
            _release(delivery_id=message.pk, why=_("endpoint disabled"), attempts=attempts - 1)
        return "released"

    def body(self, message: WebhookDelivery) -> bytes | None:
        body, count = delivery_body(message)
        return body if count else None

    def delivered(self, message_id: int, now: datetime) -> None:
        Correction.objects.filter(delivery_id=message_id, status=Correction.Status.SENDING).update(
            status=Correction.Status.DELIVERED, delivered_at=now
        )

    def dead(self, message_id: int) -> None:
        Correction.objects.filter(delivery_id=message_id, status=Correction.Status.SENDING).update(
            status=Correction.Status.FAILED
        )

    def endpoint_gone(self, message: WebhookDelivery, attempts: int, code: int, text: str) -> str:
        _release(delivery_id=message.pk, why=text, attempts=attempts, code=code)
        return "dead"

    def endpoint_disabled(self, endpoint_id: int, why: str) -> None:
        _release_open_deliveries(endpoint_id=endpoint_id, why=why)

    def endpoint_enabled(self, platform_id: int) -> None:
        deliveries_kick(platform_ids=[platform_id])


DELIVERIES = CorrectionDeliveries()


def delivery_attempt(*, delivery_id: int) -> str:
    """Send one delivery if it is due; returns what happened: skipped (not due, or claimed by another
    worker), delivered, retrying, dead, released (endpoint disabled: corrections back to pending)."""
    return outbox_attempt(kind=DELIVERIES, message_id=delivery_id)


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
    from debunk.corrections.tasks import deliver  # tasks import this module

    require_perm(by, "debunk.change_webhookdelivery")
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
        enqueue(deliver, delivery.pk)
    delivery.refresh_from_db()
    return delivery


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
