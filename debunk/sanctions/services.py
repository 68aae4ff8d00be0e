"""Sanctions: the rules recommend, reviewers decide.

`sanction_recommend` gathers the figures (severity, verdict, category tier, first poster, reach, earlier
sanctions, MCN membership), runs the rules and stores a recommendation with the rule and figures that led to
it. A reviewer applies it (`sanction_apply`); closure, blacklist and registration ban wait for a second, other
reviewer (`sanction_approve`). Appeals come from the platform and are decided by a reviewer who took no part in
the decision. Every decision is audited and, once effective, queued for the platform's webhook (outbox).
"""

import json
import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from debunk.api.models import Platform
from debunk.core.audit import audit_record
from debunk.core.outbox import enqueue
from debunk.core.roles import require_perm
from debunk.matching.models import MATCHED_STATUSES, Post
from debunk.sanctions.models import (
    FOUR_EYES,
    LADDER,
    Measure,
    Organization,
    OrganizationMember,
    Sanction,
    SanctionNotice,
    SanctionRule,
)
from debunk.stock.models import Rumor
from debunk.tracing.models import FirstPoster, Trace
from debunk.webhooks.services import OutboxKind, outbox_attempt

logger = logging.getLogger(__name__)

S = Sanction.Status
OPEN = (S.RECOMMENDED, S.PENDING_APPROVAL)
OFFENCES = (S.ACTIVE, S.EXPIRED, S.LIFTED)  # applied and not overturned: they count as earlier offences
NOTICE_OPEN = (SanctionNotice.Status.PENDING, SanctionNotice.Status.RETRYING)
TIME_LIMITED = (Measure.RESTRICTION, Measure.PM_SUSPENSION)
DEFAULT_DAYS = 7  # a restriction or suspension reached by escalation from a warning


def _require_reason(reason: str) -> str:
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Give a reason.")}, code="reason_required")
    return reason.strip()


# --- the rules engine ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """What the rules see about one account and one rumor (stored on the sanction)."""

    severity: int
    verdict: str
    category: str
    category_tier: int
    first_poster: bool
    reach: int
    prior_offences: dict[int, int]  # window in days → applied sanctions of the account within it
    organization_id: int | None


@dataclass(frozen=True)
class Outcome:
    measure: str
    days: int | None
    rule_id: int | None
    matched: list[dict[str, Any]]


def _latest_trace(rumor: Rumor) -> Trace | None:
    return Trace.objects.filter(rumor=rumor).order_by("-created_at", "-id").first()


def _trace_amplifiers(trace: Trace | None) -> dict[str, int]:
    """author_hash → reach (posts below their reposts) of the trace's key amplifiers."""
    rows = (trace.summary or {}).get("amplifiers") if trace is not None else None
    return {
        a["author"]: int(a.get("reach") or 0)
        for a in rows or []
        if isinstance(a, dict) and isinstance(a.get("author"), str)
    }


def _account_reach(*, rumor: Rumor, platform: Platform, author_hash: str, trace: Trace | None) -> tuple[bool, int]:
    """(first poster?, reach): subtree sizes of the account's origins in the latest trace; for an amplifier,
    its reach in the trace or the reposts of its archived posts that carry the rumor, whichever is larger."""
    origins = []
    if trace is not None:
        origins = list(
            FirstPoster.objects.filter(trace=trace, platform=platform, author_hash=author_hash).values_list(
                "root_index", "subtree_size"
            )
        )
    if origins:
        return True, sum(dict(origins).values())  # one origin counted once even if first overall and per platform
    posts = Post.objects.filter(
        platform=platform, author_hash=author_hash, matches__rumor=rumor, matches__status__in=MATCHED_STATUSES
    )
    reposts = Post.objects.filter(parent__in=posts.values("pk")).count()
    return False, max(reposts, _trace_amplifiers(trace).get(author_hash, 0))


def _prior_offences(*, platform: Platform, author_hash: str, windows: set[int], now: datetime) -> dict[int, int]:
    applied = Sanction.objects.filter(
        platform=platform, author_hash=author_hash, status__in=OFFENCES, approved_at__isnull=False
    )
    dates = list(applied.values_list("approved_at", flat=True))
    return {w: sum(1 for at in dates if at >= now - timedelta(days=w)) for w in sorted(windows)}


def _organization_of(*, platform: Platform, author_hash: str) -> Organization | None:
    member = OrganizationMember.objects.filter(platform=platform, author_hash=author_hash).first()
    return member.organization if member else None


def figures_gather(
    *, rumor: Rumor, platform: Platform, author_hash: str, rules: list[SanctionRule], now: datetime | None = None
) -> Figures:
    now = now or timezone.now()
    first, reach = _account_reach(rumor=rumor, platform=platform, author_hash=author_hash, trace=_latest_trace(rumor))
    windows = {r.window_days for r in rules if r.min_prior_offences is not None} or {90}
    organization = _organization_of(platform=platform, author_hash=author_hash)
    return Figures(
        severity=rumor.severity,
        verdict=rumor.verdict.code,
        category=rumor.category.code,
        category_tier=rumor.category.tier,
        first_poster=first,
        reach=reach,
        prior_offences=_prior_offences(platform=platform, author_hash=author_hash, windows=windows, now=now),
        organization_id=organization.pk if organization else None,
    )


def _tristate(wanted: str, value: bool) -> bool:
    return wanted == "any" or (wanted == "yes") == value


def rule_matches(rule: SanctionRule, figures: Figures) -> bool:
    """Every condition the rule sets holds for the figures."""
    checks = [
        rule.min_severity is None or figures.severity >= rule.min_severity,
        rule.verdict_id is None or rule.verdict.code == figures.verdict,
        rule.max_category_tier is None or figures.category_tier <= rule.max_category_tier,
        _tristate(rule.first_poster, figures.first_poster),
        rule.min_reach is None or figures.reach >= rule.min_reach,
        rule.max_reach is None or figures.reach <= rule.max_reach,
        rule.min_prior_offences is None or figures.prior_offences.get(rule.window_days, 0) >= rule.min_prior_offences,
        _tristate(rule.mcn_member, figures.organization_id is not None),
    ]
    return all(checks)


def rules_evaluate(*, rules: list[SanctionRule], figures: Figures) -> Outcome:
    """The heaviest measure of the matching `set` rules (first in order among equals; a warning if none),
    moved up the ladder by every matching `escalate` rule."""
    matched: list[dict[str, Any]] = []
    best: SanctionRule | None = None
    for rule in rules:
        if not rule.is_active or not rule_matches(rule, figures):
            continue
        matched.append({"id": rule.pk, "name": rule.name, "effect": rule.effect})
        heavier = best is None or LADDER.index(rule.measure or LADDER[0]) > LADDER.index(best.measure)
        if rule.effect == SanctionRule.Effect.SET and rule.measure and heavier:
            best = rule
    measure = best.measure if best else Measure.WARNING
    days = best.days if best else None
    step = LADDER.index(measure)
    for rule in rules:
        if rule.is_active and rule.effect == SanctionRule.Effect.ESCALATE and any(m["id"] == rule.pk for m in matched):
            step += rule.steps
    step = min(step, len(LADDER) - 1)
    if LADDER[step] != measure:
        measure = LADDER[step]
        days = (days or DEFAULT_DAYS) if measure in TIME_LIMITED else None
    return Outcome(measure=measure, days=days, rule_id=best.pk if best else None, matched=matched)


# --- recommendations -----------------------------------------------------------------------------------------


def sanction_recommend(*, rumor: Rumor, platform: Platform, author_hash: str, by: Any) -> Sanction:
    """Recommend a measure for one account's part in one rumor. An open recommendation of the same account and
    rumor is returned as it is (recommending twice creates nothing)."""
    require_perm(by, "debunk.recommend_sanction")
    author_hash = (author_hash or "").strip().lower()
    if not author_hash:
        raise ValidationError({"author_hash": _("An account is needed.")})
    existing = Sanction.objects.filter(
        rumor=rumor, platform=platform, author_hash=author_hash, status__in=OPEN, organization__isnull=True
    ).first()
    if existing is not None:
        return existing
    rules = list(SanctionRule.objects.filter(is_active=True).select_related("verdict").order_by("position", "id"))
    figures = figures_gather(rumor=rumor, platform=platform, author_hash=author_hash, rules=rules)
    outcome = rules_evaluate(rules=rules, figures=figures)
    sanction = Sanction(
        rumor=rumor,
        platform=platform,
        author_hash=author_hash,
        measure=outcome.measure,
        days=outcome.days,
        recommended_measure=outcome.measure,
        rule_id=outcome.rule_id,
        inputs={**asdict(figures), "prior_offences": {str(k): v for k, v in figures.prior_offences.items()}},
        matched_rules=outcome.matched,
        recommended_by=by,
    )
    with transaction.atomic():
        sanction.save()
        audit_record(
            actor=by,
            action="sanction.recommend",
            target=sanction,
            changes={"measure": [None, sanction.measure], "days": [None, sanction.days], "inputs": sanction.inputs},
        )
    return sanction


def rumor_accounts(*, rumor: Rumor) -> list[tuple[Platform, str]]:
    """The accounts to consider for a rumor: first posters of its latest trace, then amplifiers (authors of
    archived posts carrying it that others reposted, and the trace's key amplifiers)."""
    seen: dict[tuple[int, str], None] = {}
    trace = _latest_trace(rumor)
    if trace is not None:
        for platform_id, author in FirstPoster.objects.filter(trace=trace).values_list("platform_id", "author_hash"):
            if author:
                seen.setdefault((platform_id, author), None)
    amplifiers = (
        Post.objects.filter(matches__rumor=rumor, matches__status__in=MATCHED_STATUSES, reposts__isnull=False)
        .exclude(author_hash="")
        .values_list("platform_id", "author_hash")
        .distinct()
    )
    for platform_id, author in amplifiers:
        seen.setdefault((platform_id, author), None)
    for author in _trace_amplifiers(trace):
        platform_id = Post.objects.filter(author_hash=author).values_list("platform_id", flat=True).first()
        if platform_id is not None:
            seen.setdefault((platform_id, author), None)
    platforms = Platform.objects.in_bulk({p for p, _a in seen})
    return [(platforms[p], a) for p, a in seen]


def sanctions_recommend_for_rumor(*, rumor: Rumor, by: Any) -> list[Sanction]:
    """A recommendation for each first poster and amplifier of the rumor."""
    require_perm(by, "debunk.recommend_sanction")
    return [
        sanction_recommend(rumor=rumor, platform=platform, author_hash=author, by=by)
        for platform, author in rumor_accounts(rumor=rumor)
    ]


# --- decisions -------------------------------------------------------------------------------------------------


def _validate_measure(measure: str, days: int | None) -> None:
    if measure not in LADDER:
        raise ValidationError({"measure": _("Unknown measure.")})
    if days is not None and days < 1:
        raise ValidationError({"days": _("At least one day, or none.")})


def _start(sanction: Sanction, *, now: datetime) -> None:
    sanction.status = S.ACTIVE
    sanction.approved_at = now
    sanction.ends_at = now + timedelta(days=sanction.days) if sanction.days else None


def sanction_apply(
    *, sanction: Sanction, by: Any, reason: str = "", measure: str | None = None, days: int | None = -1
) -> Sanction:
    """A reviewer applies a recommendation, as recommended or with another measure or duration (`days=-1`:
    keep). Warnings, restrictions and message suspensions take effect now; the heavier measures wait for a
    second reviewer."""
    require_perm(by, "debunk.apply_sanction")
    if sanction.status != S.RECOMMENDED:
        raise ValidationError(_("Only a recommendation can be applied."), code="illegal_transition")
    before = {"measure": sanction.measure, "days": sanction.days, "status": sanction.status}
    if measure is not None:
        sanction.measure = measure
    if days != -1:
        sanction.days = days
    _validate_measure(sanction.measure, sanction.days)
    if sanction.measure != sanction.recommended_measure:
        _require_reason(reason)
    now = timezone.now()
    sanction.applied_by, sanction.applied_at, sanction.reason = by, now, (reason or "").strip()
    if sanction.measure in FOUR_EYES:
        sanction.status = S.PENDING_APPROVAL
    else:
        _start(sanction, now=now)
    with transaction.atomic():
        sanction.save()
        after = {"measure": sanction.measure, "days": sanction.days, "status": sanction.status}
        audit_record(
            actor=by,
            action="sanction.apply",
            target=sanction,
            changes={k: [before[k], v] for k, v in after.items() if before[k] != v},
            reason=sanction.reason,
        )
        if sanction.status == S.ACTIVE:
            notice_enqueue(sanction=sanction, event="sanction.applied")
    return sanction


def sanction_approve(*, sanction: Sanction, by: Any) -> Sanction:
    """The second reviewer of a closure, blacklist or registration ban (four-eyes)."""
    require_perm(by, "debunk.apply_sanction")
    if sanction.status != S.PENDING_APPROVAL:
        raise ValidationError(_("This sanction is not awaiting approval."), code="illegal_transition")
    if by.pk == sanction.applied_by_id:
        raise PermissionDenied(_("Four-eyes rule: a second reviewer, other than the one who applied it, approves."))
    sanction.approved_by = by
    _start(sanction, now=timezone.now())
    with transaction.atomic():
        sanction.save()
        audit_record(
            actor=by, action="sanction.approve", target=sanction, changes={"status": [S.PENDING_APPROVAL, S.ACTIVE]}
        )
        notice_enqueue(sanction=sanction, event="sanction.applied")
    return sanction


def sanction_dismiss(*, sanction: Sanction, by: Any, reason: str) -> Sanction:
    """A reviewer decides against a recommendation (or a second reviewer refuses an application)."""
    require_perm(by, "debunk.apply_sanction")
    if sanction.status not in OPEN:
        raise ValidationError(_("Only an open recommendation can be dismissed."), code="illegal_transition")
    if sanction.status == S.PENDING_APPROVAL and by.pk == sanction.applied_by_id:
        raise PermissionDenied(_("Four-eyes rule: a second reviewer, other than the one who applied it, decides."))
    before = sanction.status
    sanction.status = S.DISMISSED
    with transaction.atomic():
        sanction.save()
        audit_record(
            actor=by,
            action="sanction.dismiss",
            target=sanction,
            changes={"status": [before, S.DISMISSED]},
            reason=_require_reason(reason),
        )
    return sanction


def sanction_lift(*, sanction: Sanction, by: Any, reason: str) -> Sanction:
    """End an active measure early, saying why."""
    require_perm(by, "debunk.apply_sanction")
    reason = _require_reason(reason)
    if sanction.status != S.ACTIVE:
        raise ValidationError(_("Only an active sanction can be lifted."), code="illegal_transition")
    return _end(sanction, by=by, status=S.LIFTED, action="sanction.lift", reason=reason, event="sanction.lifted")


def _end(sanction: Sanction, *, by: Any, status: str, action: str, reason: str, event: str) -> Sanction:
    before = sanction.status
    sanction.status, sanction.ended_at = status, timezone.now()
    with transaction.atomic():
        sanction.save()
        audit_record(actor=by, action=action, target=sanction, changes={"status": [before, status]}, reason=reason)
        notice_enqueue(sanction=sanction, event=event)
    return sanction


def sanctions_expire(*, by: Any, now: datetime | None = None) -> int:
    """End the active measures whose time is up; running it again changes nothing. The scheduler acts as an
    explicit system user (`debunk.sanctions.tasks.expire_sanctions`), so every expiry names who ended it."""
    require_perm(by, "debunk.apply_sanction")
    now = now or timezone.now()
    ids = list(Sanction.objects.filter(status=S.ACTIVE, ends_at__lte=now).values_list("pk", flat=True))
    done = 0
    for pk in ids:
        with transaction.atomic():
            sanction = Sanction.objects.select_for_update().filter(pk=pk, status=S.ACTIVE, ends_at__lte=now).first()
            if sanction is None:
                continue
            _end(sanction, by=by, status=S.EXPIRED, action="sanction.expire", reason="", event="sanction.expired")
            done += 1
    return done


def sanction_mark_typical(*, sanction: Sanction, by: Any, typical: bool, summary: str = "") -> Sanction:
    """Choose (or drop) a sanction as a typical case for the public reports, with a summary fit to publish."""
    require_perm(by, "debunk.apply_sanction")
    if typical and sanction.status not in OFFENCES:
        raise ValidationError(_("Only an applied sanction can be a typical case."), code="not_applied")
    before = [sanction.typical_case, sanction.case_summary]
    sanction.typical_case = typical
    sanction.case_summary = (summary or sanction.case_summary).strip()
    with transaction.atomic():
        sanction.save(update_fields=["typical_case", "case_summary", "updated_at"])
        audit_record(
            actor=by,
            action="sanction.typical",
            target=sanction,
            changes={"typical_case": [before[0], typical], "case_summary": [before[1], sanction.case_summary]},
        )
    return sanction


# --- appeals ---------------------------------------------------------------------------------------------------


def sanction_appeal_submit(*, sanction: Sanction, platform: Platform, text: str) -> Sanction:
    """A platform appeals for its user against an active (or lifted/expired) sanction of its own account; once."""
    if sanction.platform_id != platform.pk:
        raise Sanction.DoesNotExist  # another platform's sanction does not exist for this one
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("Say why the decision should be reviewed.")})
    if sanction.status not in OFFENCES:
        raise ValidationError({"status": _("Only an applied sanction can be appealed.")}, code="not_applied")
    if sanction.appeal:
        raise ValidationError({"appeal": _("This sanction was already appealed.")}, code="already_appealed")
    sanction.appeal, sanction.appeal_text, sanction.appealed_at = Sanction.Appeal.PENDING, text, timezone.now()
    with transaction.atomic():
        sanction.save(update_fields=["appeal", "appeal_text", "appealed_at", "updated_at"])
        audit_record(
            actor=None,
            action="sanction.appeal",
            target=sanction,
            changes={"appeal": ["", Sanction.Appeal.PENDING]},
            reason=f"platform:{platform.code}: {text}"[:2000],
        )
    return sanction


def sanction_appeal_decide(*, sanction: Sanction, by: Any, uphold: bool, reason: str) -> Sanction:
    """A reviewer who neither applied nor approved the sanction upholds or overturns it."""
    require_perm(by, "debunk.apply_sanction")
    reason = _require_reason(reason)
    if sanction.appeal != Sanction.Appeal.PENDING:
        raise ValidationError(_("No appeal is pending."), code="no_appeal")
    if by.pk in {sanction.applied_by_id, sanction.approved_by_id}:
        raise PermissionDenied(_("An appeal is decided by a reviewer who took no part in the decision."))
    decision = Sanction.Appeal.UPHELD if uphold else Sanction.Appeal.OVERTURNED
    sanction.appeal, sanction.appeal_decided_by = decision, by
    sanction.appeal_decided_at, sanction.appeal_reason = timezone.now(), reason
    with transaction.atomic():
        before = sanction.status
        if not uphold:
            sanction.status, sanction.ended_at = S.OVERTURNED, sanction.ended_at or timezone.now()
        sanction.save()
        audit_record(
            actor=by,
            action="sanction.appeal.uphold" if uphold else "sanction.appeal.overturn",
            target=sanction,
            changes={"appeal": [Sanction.Appeal.PENDING, decision], "status": [before, sanction.status]},
            reason=reason,
        )
        notice_enqueue(sanction=sanction, event=f"sanction.appeal_{decision}")
    return sanction


# --- organisations (MCN) ---------------------------------------------------------------------------------------


def organization_summary(*, organization: Organization) -> dict[str, Any]:
    """Member accounts and their applied sanctions, by measure."""
    members = list(organization.members.values_list("platform_id", "author_hash"))
    query = Q(pk__in=[])
    for platform_id, author in members:
        query |= Q(platform_id=platform_id, author_hash=author)
    applied = Sanction.objects.filter(query, status__in=OFFENCES)
    by_measure: dict[str, int] = {}
    for measure in applied.values_list("measure", flat=True):
        by_measure[measure] = by_measure.get(measure, 0) + 1
    return {"members": len(members), "sanctions": sum(by_measure.values()), "by_measure": by_measure}


def organization_sanction(
    *, organization: Organization, measure: str, days: int | None, by: Any, reason: str, rumor: Rumor | None = None
) -> list[Sanction]:
    """A joint measure: one sanction per member account, each applied by `by` (and awaiting a second reviewer
    for the heavy measures, as any other)."""
    require_perm(by, "debunk.apply_sanction")
    reason = _require_reason(reason)
    _validate_measure(measure, days)
    made = []
    with transaction.atomic():
        for member in organization.members.select_related("platform").order_by("pk"):
            sanction = Sanction.objects.create(
                rumor=rumor,
                platform=member.platform,
                author_hash=member.author_hash,
                organization=organization,
                measure=measure,
                days=days,
                recommended_measure=measure,
                inputs={"organization_id": organization.pk, "joint": True},
                recommended_by=by,
            )
            audit_record(
                actor=by,
                action="sanction.joint",
                target=sanction,
                changes={"organization": [None, organization.pk], "measure": [None, measure]},
                reason=reason,
            )
            made.append(sanction_apply(sanction=sanction, by=by, reason=reason))
    return made


# --- notices to the platforms (outbox) ------------------------------------------------------------------------


def sanction_item(sanction: Sanction) -> dict[str, Any]:
    """A sanction as its platform sees it (webhook `data.sanction`, and GET /api/v1/sanctions)."""
    return {
        "id": sanction.pk,
        "author_hash": sanction.author_hash,
        "measure": sanction.measure,
        "days": sanction.days,
        "status": sanction.status,
        "rumor_id": sanction.rumor_id,
        "effective_at": sanction.approved_at.isoformat() if sanction.approved_at else None,
        "ends_at": sanction.ends_at.isoformat() if sanction.ends_at else None,
        "ended_at": sanction.ended_at.isoformat() if sanction.ended_at else None,
        "appeal": sanction.appeal or None,
        "identities_wanted": sanction.measure in (Measure.BLACKLIST, Measure.REGISTRATION_BAN)
        and sanction.status == S.ACTIVE,
    }


def notice_enqueue(*, sanction: Sanction, event: str) -> SanctionNotice:
    """Queue a decision for the platform's webhook; sent after commit (and by the beat, until delivered)."""
    from debunk.sanctions.tasks import deliver_sanction_notice  # tasks import this module

    notice = SanctionNotice.objects.create(
        sanction=sanction,
        platform_id=sanction.platform_id,
        event=event,
        payload={"type": event, "timestamp": timezone.now().isoformat(), "data": {"sanction": sanction_item(sanction)}},
        message_id=f"msg_{uuid.uuid4().hex}",
    )
    enqueue(deliver_sanction_notice, notice.pk)
    return notice


def notices_due(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """(id, attempts) of the notices whose next attempt is due, oldest first."""
    now = now or timezone.now()
    due = SanctionNotice.objects.filter(status__in=NOTICE_OPEN, next_attempt_at__lte=now).order_by("next_attempt_at")
    return list(due.values_list("pk", "attempts")[:1000])


class SanctionNotices(OutboxKind):
    """A notice goes to its platform's current endpoint; without one (none yet, disabled, or gone: 410) it waits
    for one (the platform reads GET /api/v1/sanctions meanwhile)."""

    model = SanctionNotice
    name = "sanction notice"

    def body(self, message: SanctionNotice) -> bytes:
        return json.dumps(message.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


NOTICES = SanctionNotices()


def notice_attempt(*, notice_id: int) -> str:
    """Send one notice if due (debunk.webhooks.services.outbox_attempt): skipped, waiting (no endpoint, or it
    answered 410 Gone and was disabled), delivered, retrying (429: after Retry-After) or dead."""
    return outbox_attempt(kind=NOTICES, message_id=notice_id)
