"""Surge and resurgence alerts: the hourly scan, acknowledging and closing, and telling subscribers.

`alerts_scan` (Celery beat, hourly) looks at the last complete hour. Per subject it builds a series of hourly counts
over the last WARNING_ALERT_HISTORY_HOURS hours and runs debunk.warning.detector:

- a **rumor** with activity in that hour: match hits (InterceptionCount, period "hour", summed over platforms and
  actions) + reports tied to it (RumorReport.received_at) + exposures of archived posts that carry it
  (corrections.Exposure.at, of a post with an automatic or confirmed Match of the rumor). The sum is tested for a
  surge; the hits alone for a resurgence (旧谣言反复传播: no hit for WARNING_ALERT_QUIET_DAYS, counted from the last
  earlier hit, or from publication for a rumor never matched, then at least the resurgence count in the hour);
- an **open lead** (LeadCluster not yet tied to a rumor): its reports per hour. The figures also carry its reach
  growth (the largest view count reported in the hour minus the largest reported before).

At most one open (or acknowledged) alert per subject: a new firing updates it. Subscribers are told when the alert
opens (`alert.raised`) and again only when its level grows (`alert.updated`: the kind changed, or the hour's count
reached twice the count last told): no alert storm. Platforms get signed webhooks (AlertNotice, outbox) of rumor
alerts only (leads hold reporters' unverified content); staff get e-mails of both. An alert with no firing for
WARNING_ALERT_CLOSE_HOURS is closed automatically. Every change is audited.
"""

import json
import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.translation import gettext as _

from debunk.core.audit import audit_record, diff, removal, snapshot
from debunk.core.outbox import enqueue
from debunk.core.roles import REVIEWER, require_perm, system_user
from debunk.corrections.models import Exposure
from debunk.matching.models import MATCHED_STATUSES
from debunk.reports.models import LeadCluster, RumorReport
from debunk.stock.models import Rumor
from debunk.warning.detector import RESURGENCE, SURGE, Params, assess, resurgence
from debunk.warning.models import Alert, AlertNotice, AlertSubscription, InterceptionCount
from debunk.webhooks.services import OPEN, OutboxKind, outbox_attempt

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
LIVE = (Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED)
SYSTEM_USER = "system-warning"


def detector_params() -> Params:
    """The detector's parameters for hourly bins (defaults chosen by eval_warning; settings may override)."""
    return Params(
        p_max=settings.WARNING_ALERT_P_MAX,
        min_count=settings.WARNING_ALERT_MIN_COUNT,
        quiet_days=settings.WARNING_ALERT_QUIET_DAYS,
    )


def _hour_floor(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _key(at: datetime) -> int:
    return int(at.timestamp()) // 3600


# --- the series ----------------------------------------------------------------------------------------------------


def rumor_series(*, start: datetime, end: datetime) -> dict[int, dict[str, dict[int, int]]]:
    """rumor id → {"hits"|"reports"|"exposures": {hour key: count}} for hours in [start, end)."""
    out: dict[int, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    hits = (
        InterceptionCount.objects.filter(period=InterceptionCount.Period.HOUR, start__gte=start, start__lt=end)
        .values("rumor_id", "start")
        .annotate(n=Sum("count"))
    )
    for row in hits:
        series = out[row["rumor_id"]]["hits"]
        series[_key(row["start"])] = series.get(_key(row["start"]), 0) + int(row["n"])
    reports = (
        RumorReport.objects.filter(rumor__isnull=False, received_at__gte=start, received_at__lt=end)
        .annotate(hour=TruncHour("received_at"))
        .values("rumor_id", "hour")
        .annotate(n=Count("id"))
    )
    for row in reports:
        out[row["rumor_id"]]["reports"][_key(row["hour"])] = row["n"]
    exposures = (
        Exposure.objects.filter(
            at__gte=start, at__lt=end, post__matches__status__in=MATCHED_STATUSES, post__matches__rumor__isnull=False
        )
        .annotate(hour=TruncHour("at"))
        .values("post__matches__rumor_id", "hour")
        .annotate(n=Count("id", distinct=True))
    )
    for row in exposures:
        out[row["post__matches__rumor_id"]]["exposures"][_key(row["hour"])] = row["n"]
    return out


def lead_series(*, start: datetime, end: datetime) -> dict[int, dict[int, int]]:
    """open lead id → {hour key: reports received} for hours in [start, end)."""
    rows = (
        RumorReport.objects.filter(
            content__cluster__status=LeadCluster.Status.OPEN,
            content__cluster__rumor__isnull=True,
            received_at__gte=start,
            received_at__lt=end,
        )
        .annotate(hour=TruncHour("received_at"))
        .values("content__cluster_id", "hour")
        .annotate(n=Count("id"))
    )
    out: dict[int, dict[int, int]] = defaultdict(dict)
    for row in rows:
        out[row["content__cluster_id"]][_key(row["hour"])] = row["n"]
    return out


def _array(series: dict[int, int], first: int, last: int) -> list[int]:
    return [series.get(k, 0) for k in range(first, last + 1)]


def _quiet_hours(rumor_id: int, current: datetime) -> int | None:
    """Whole hours without a hit before `current` (from the end of the last earlier count, of an hour or a day, or
    from publication); None for a rumor neither matched nor published before."""
    last = InterceptionCount.objects.filter(rumor_id=rumor_id, start__lt=current, count__gt=0).aggregate(
        hour=Max("start", filter=~_day()), day=Max("start", filter=_day())
    )
    ends = [t + HOUR for t in [last["hour"]] if t] + [t + timedelta(days=1) for t in [last["day"]] if t]
    if not ends:
        published = Rumor.objects.filter(pk=rumor_id).values_list("published_at", flat=True).first()
        ends = [published] if published and published < current else []
    if not ends:
        return None
    return max(0, int((current - min(max(ends), current)).total_seconds() // 3600))


def _day() -> Q:
    return Q(period=InterceptionCount.Period.DAY)


# --- the scan ------------------------------------------------------------------------------------------------------


def alerts_scan(*, now: datetime | None = None) -> dict[str, int]:
    """Assess the last complete hour of every active rumor and open lead; open, update or close alerts. Returns
    counts of what was done (raised, updated, notified, closed)."""
    now = now or timezone.now()
    current = _hour_floor(now) - HOUR
    params = detector_params()
    history = max(2, settings.WARNING_ALERT_HISTORY_HOURS)
    start = current - (history - 1) * HOUR
    first, last = _key(start), _key(current)
    done = {"raised": 0, "updated": 0, "notified": 0, "closed": 0}
    for rumor_id, parts in rumor_series(start=start, end=current + HOUR).items():
        hits = _array(parts.get("hits", {}), first, last)
        total = [
            h + r + e
            for h, r, e in zip(
                hits,
                _array(parts.get("reports", {}), first, last),
                _array(parts.get("exposures", {}), first, last),
                strict=True,
            )
        ]
        if total[-1] == 0:
            continue
        decision = assess(total, params)
        kind = None
        if hits[-1] and resurgence(quiet_bins_before=_quiet_hours(rumor_id, current), observed=hits[-1], params=params):
            kind = Alert.Kind.RESURGENCE
        elif decision.kind == SURGE:
            kind = Alert.Kind.SURGE
        if kind:
            figures = {
                "hits": hits[-1],
                "reports": parts.get("reports", {}).get(last, 0),
                "exposures": parts.get("exposures", {}).get(last, 0),
            }
            _tally(done, _fire(rumor_id=rumor_id, kind=kind, decision=decision, figures=figures, current=current))
    for cluster_id, series in lead_series(start=start, end=current + HOUR).items():
        counts = _array(series, first, last)
        if counts[-1] == 0:
            continue
        decision = assess(counts, params)
        if decision.kind == SURGE:
            figures = {"reports": counts[-1], "reach_growth": _reach_growth(cluster_id, current)}
            _tally(
                done,
                _fire(
                    cluster_id=cluster_id,
                    kind=Alert.Kind.LEAD_SURGE,
                    decision=decision,
                    figures=figures,
                    current=current,
                ),
            )
    done["closed"] = alerts_close_quiet(now=now)
    return done


def _reach_growth(cluster_id: int, current: datetime) -> int:
    reports = RumorReport.objects.filter(content__cluster_id=cluster_id, views__isnull=False)
    now_max = reports.filter(received_at__gte=current, received_at__lt=current + HOUR).aggregate(v=Max("views"))["v"]
    before = reports.filter(received_at__lt=current).aggregate(v=Max("views"))["v"]
    return max(0, (now_max or 0) - (before or 0))


def _tally(done: dict[str, int], outcome: tuple[str, bool]) -> None:
    done[outcome[0]] += 1
    done["notified"] += outcome[1]


def _system() -> Any:
    return system_user(SYSTEM_USER, REVIEWER)


def _fire(
    *,
    kind: str,
    decision: Any,
    figures: dict[str, Any],
    current: datetime,
    rumor_id: int | None = None,
    cluster_id: int | None = None,
) -> tuple[str, bool]:
    """Open an alert for the subject, or update its live one; notify when opened or grown. ('raised'|'updated',
    notified?)."""
    subject = {"rumor_id": rumor_id} if rumor_id else {"cluster_id": cluster_id}
    values = {
        "observed": decision.observed,
        "expected": round(decision.expected, 4),
        "p_value": decision.p_value,
        "last_period": current,
        "updated_at": timezone.now(),
    }
    try:
        with transaction.atomic():
            alert = Alert.objects.select_for_update().filter(status__in=LIVE, **subject).first()
            if alert is None:
                alert = Alert.objects.create(
                    kind=kind,
                    peak=decision.observed,
                    figures={**figures, "told": decision.observed},
                    **subject,
                    **values,
                )
                audit_record(
                    actor=_system(),
                    action="alert.raise",
                    target=alert,
                    changes={"kind": [None, kind], **_changes(values)},
                )
                _notify(alert, "alert.raised")
                return "raised", True
            grown = kind != alert.kind or decision.observed >= 2 * int(alert.figures.get("told") or 1)
            before = {"kind": alert.kind, "observed": alert.observed, "peak": alert.peak}
            alert.kind = kind
            alert.peak = max(alert.peak, decision.observed)
            alert.figures = {**figures, "told": decision.observed if grown else alert.figures.get("told", 0)}
            for name, value in values.items():
                setattr(alert, name, value)
            alert.save()
            after = {"kind": alert.kind, "observed": alert.observed, "peak": alert.peak}
            audit_record(
                actor=_system(),
                action="alert.update",
                target=alert,
                changes={k: [before[k], after[k]] for k in after if before[k] != after[k]},
            )
            if grown:
                _notify(alert, "alert.updated")
            return "updated", grown
    except IntegrityError:  # another scan opened one just now: it stands
        logger.info("alert for %s opened concurrently", subject)
        return "updated", False


def _changes(values: dict[str, Any]) -> dict[str, list]:
    return {k: [None, v.isoformat() if hasattr(v, "isoformat") else v] for k, v in values.items() if k != "updated_at"}


def alerts_close_quiet(*, now: datetime | None = None) -> int:
    """Close the live alerts with no firing for WARNING_ALERT_CLOSE_HOURS (audited, by the system account)."""
    now = now or timezone.now()
    cutoff = _hour_floor(now) - HOUR - timedelta(hours=settings.WARNING_ALERT_CLOSE_HOURS)
    closed = 0
    for alert in Alert.objects.filter(status__in=LIVE, last_period__lte=cutoff):
        _close(
            alert, by=_system(), reason=_("quiet for %(hours)s hours") % {"hours": settings.WARNING_ALERT_CLOSE_HOURS}
        )
        closed += 1
    return closed


# --- people's actions ----------------------------------------------------------------------------------------------


def alert_acknowledge(alert: Alert, by: Any) -> Alert:
    """Someone is on it: open → acknowledged (audited)."""
    require_perm(by, "debunk.acknowledge_alert")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.status != Alert.Status.OPEN:
            raise ValidationError({"status": _("Only an open alert can be acknowledged.")}, code="not_open")
        alert.status = Alert.Status.ACKNOWLEDGED
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = by
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
        audit_record(
            actor=by, action="alert.acknowledge", target=alert, changes={"status": [Alert.Status.OPEN, alert.status]}
        )
    return alert


def alert_close(alert: Alert, by: Any, reason: str = "") -> Alert:
    """Close an open or acknowledged alert (audited); a later surge opens a new one."""
    require_perm(by, "debunk.acknowledge_alert")
    return _close(alert, by=by, reason=reason)


def _close(alert: Alert, *, by: Any, reason: str) -> Alert:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.status == Alert.Status.CLOSED:
            raise ValidationError({"status": _("The alert is closed already.")}, code="closed")
        before = alert.status
        alert.status = Alert.Status.CLOSED
        alert.closed_at = timezone.now()
        alert.save(update_fields=["status", "closed_at"])
        audit_record(
            actor=by, action="alert.close", target=alert, changes={"status": [before, alert.status]}, reason=reason
        )
    return alert


def subscription_save(subscription: AlertSubscription, by: Any) -> AlertSubscription:
    """Add or change a subscription (a platform or a staff account), validated and audited."""
    require_perm(by, "debunk.change_alertsubscription" if subscription.pk else "debunk.add_alertsubscription")
    before = snapshot(AlertSubscription.objects.get(pk=subscription.pk)) if subscription.pk else {}
    with transaction.atomic():
        subscription.full_clean()
        subscription.save()
        audit_record(
            actor=by,
            action="alert.subscription.change" if before else "alert.subscription.add",
            target=subscription,
            changes=diff(before, snapshot(subscription)),
        )
    return subscription


def subscription_delete(subscription: AlertSubscription, by: Any) -> None:
    """Remove a subscription (audited)."""
    require_perm(by, "debunk.delete_alertsubscription")
    with transaction.atomic():
        audit_record(actor=by, action="alert.subscription.delete", target=subscription, changes=removal(subscription))
        subscription.delete()


# --- telling subscribers -------------------------------------------------------------------------------------------


def alert_item(alert: Alert) -> dict[str, Any]:
    """What a subscriber is told of an alert (the webhook's `data.alert`)."""
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "status": alert.status,
        "rumor_id": alert.rumor_id,
        "cluster_id": alert.cluster_id,
        "hour": alert.last_period.isoformat(),
        "observed": alert.observed,
        "expected": alert.expected,
        "p_value": alert.p_value,
        "peak": alert.peak,
        "opened_at": alert.opened_at.isoformat(),
    }


def _notify(alert: Alert, event: str) -> None:
    """Queue the event for every active subscription (in the caller's transaction)."""
    from debunk.warning.tasks import deliver_alert_notice, send_alert_mail

    subscriptions = AlertSubscription.objects.filter(is_active=True)
    payload = {"type": event, "timestamp": timezone.now().isoformat(), "data": {"alert": alert_item(alert)}}
    if alert.rumor_id:  # leads hold reporters' unverified content: staff only
        for platform_id in subscriptions.filter(platform__isnull=False).values_list("platform_id", flat=True):
            notice = AlertNotice.objects.create(
                alert=alert, platform_id=platform_id, event=event, payload=payload, message_id=f"msg_{uuid.uuid4().hex}"
            )
            enqueue(deliver_alert_notice, notice.pk)
    for user_id in subscriptions.filter(user__isnull=False, user__is_active=True).values_list("user_id", flat=True):
        enqueue(send_alert_mail, alert.pk, user_id, event)


def alert_mail_send(*, alert_id: int, user_id: int, event: str) -> str:
    """E-mail one staff subscriber about an alert through Django's mail backend: sent, or skipped (no address, the
    account or its subscription no longer active)."""
    alert = Alert.objects.select_related("rumor", "cluster").filter(pk=alert_id).first()
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    active = AlertSubscription.objects.filter(user_id=user_id, is_active=True).exists()
    if alert is None or user is None or not active or not getattr(user, "email", ""):
        return "skipped"
    subject_line = str(alert.rumor) if alert.rumor_id else (alert.cluster.text[:60] if alert.cluster else "")
    raised = event == "alert.raised"
    subject = (_("Alert raised: %(alert)s") if raised else _("Alert growing: %(alert)s")) % {"alert": str(alert)}
    body = "\n".join(
        [
            str(subject_line),
            _("%(observed)s in the hour from %(hour)s (expected %(expected).1f, p = %(p).2g); peak %(peak)s.")
            % {
                "observed": alert.observed,
                "hour": timezone.localtime(alert.last_period).strftime("%Y-%m-%d %H:%M"),
                "expected": alert.expected,
                "p": alert.p_value if alert.p_value is not None else 1.0,
                "peak": alert.peak,
            },
            f"/admin/debunk/alert/{alert.pk}/change/",
        ]
    )
    send_mail(subject, body, None, [user.email])
    return "sent"


class AlertNotices(OutboxKind):
    """An alert notice goes to its platform's current endpoint; without one it waits for one."""

    model = AlertNotice
    name = "alert notice"

    def body(self, message: AlertNotice) -> bytes:
        return json.dumps(message.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


NOTICES = AlertNotices()


def notice_attempt(*, notice_id: int) -> str:
    """Send one alert notice if due (debunk.webhooks.services.outbox_attempt)."""
    return outbox_attempt(kind=NOTICES, message_id=notice_id)


def notices_due(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """(id, attempts) of the alert notices whose next attempt is due, oldest first."""
    now = now or timezone.now()
    due = AlertNotice.objects.filter(status__in=OPEN, next_attempt_at__lte=now).order_by("next_attempt_at")
    return list(due.values_list("pk", "attempts")[:1000])


__all__ = ["RESURGENCE", "alert_acknowledge", "alert_close", "alerts_scan"]
