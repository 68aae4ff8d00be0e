"""Triage of leads: link to a rumor, draft a rumor, dismiss (and reopen a mistaken dismissal); the first action on
a lead is timed. Each decision is permission-checked, runs in one transaction with the lead's row locked, is
audited, and tells the lead's pending reports their outcome (`notices.outcome_notify`: the reporter's e-mail, the
platform's notice).

- Linking to a live rumor tells the reports that a published debunk applies (DEBUNKED); linking to a rumor not yet
  published, or drafting one from the lead, tells them that a debunk is being prepared (DRAFTED). When that rumor
  is published, `reports_rumor_published` (called by the stock's publish) turns them DEBUNKED and tells them.
- Contents and screenshots of a report are never altered or deleted while it is open (`report_check_deletable`).
"""

from collections.abc import Iterable
from datetime import timedelta
from statistics import median
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from debunk.core.audit import audit_record, audited_delete, diff, snapshot
from debunk.core.roles import require_perm
from debunk.reports import notices
from debunk.reports.models import LeadCluster, ReportContent, ReportImage, RumorReport
from debunk.stock.models import Attachment, Rumor, RumorSource
from labels.models import VerdictLabel

TRIAGE = "debunk.triage_lead"
DEFAULT_VERDICT = "false"
MAX_CARRIED = 20  # screenshots, and links, carried over to a draft rumor
Outcome = RumorReport.Outcome
Status = LeadCluster.Status


def lead_first_action(cluster: LeadCluster, by: Any) -> None:
    """Record the first action on a lead (any triage action, verification request or hand-over), once."""
    LeadCluster.objects.filter(Q(pk=cluster.pk), Q(first_action_at__isnull=True)).update(
        first_action_at=timezone.now(), first_action_by=by
    )


def _locked(cluster: LeadCluster, *statuses: str) -> LeadCluster:
    """The lead's row, locked for the decision, refused unless it is in one of `statuses`."""
    row = LeadCluster.objects.select_for_update().get(pk=cluster.pk)
    if row.status not in statuses:
        raise ValidationError(
            _("This lead is already decided (%(status)s).") % {"status": Status(row.status).label},
            code="lead_decided",
        )
    return row


def _decide(
    row: LeadCluster, *, by: Any, status: str, action: str, rumor: Rumor | None = None, reason: str = ""
) -> LeadCluster:
    before = snapshot(row)
    row.status, row.rumor, row.reason = status, rumor, reason
    row.decided_at, row.decided_by = timezone.now(), by
    row.save(update_fields=["status", "rumor", "reason", "decided_at", "decided_by"])
    lead_first_action(row, by)
    audit_record(actor=by, action=action, target=row, changes=diff(before, snapshot(row)), reason=reason)
    return row


def _tell(reports: Iterable[RumorReport], outcome: str, rumor: Rumor | None) -> list[RumorReport]:
    """Give the reports their outcome (and rumor) and queue the notices; the reports, updated."""
    reports = list(reports)
    if not reports:
        return []
    now = timezone.now()
    RumorReport.objects.filter(pk__in=[r.pk for r in reports]).update(outcome=outcome, outcome_at=now, rumor=rumor)
    for report in reports:
        report.outcome, report.outcome_at, report.rumor = outcome, now, rumor
    notices.outcome_notify(reports)
    return reports


def _pending(row: LeadCluster) -> list[RumorReport]:
    pending = RumorReport.objects.filter(content__cluster=row, outcome=Outcome.PENDING)
    return list(pending.select_related("content").order_by("pk"))


def lead_link(cluster: LeadCluster, rumor: Rumor, by: Any, reason: str = "") -> LeadCluster:
    """Link an open lead to an existing rumor: its reports are told a published debunk applies (a live rumor) or
    that one is being prepared (a draft or one in review)."""
    require_perm(by, TRIAGE)
    if rumor.status in (Rumor.Status.RETRACTED, Rumor.Status.EXPIRED):
        raise ValidationError(
            _("This rumor is %(status)s: reopen it before linking leads to it.")
            % {"status": Rumor.Status(rumor.status).label},
            code="rumor_closed",
        )
    with transaction.atomic():
        row = _locked(cluster, Status.OPEN)
        _decide(row, by=by, status=Status.LINKED, action="lead.link", rumor=rumor, reason=(reason or "").strip())
        live = Rumor.objects.live().filter(pk=rumor.pk).exists()
        _tell(_pending(row), Outcome.DEBUNKED if live else Outcome.DRAFTED, rumor)
    cluster.refresh_from_db()
    return cluster


def lead_draft(cluster: LeadCluster, by: Any, verdict: VerdictLabel | str = DEFAULT_VERDICT) -> Rumor:
    """Create a draft rumor from an open lead: its text as the claim, its category, the screenshots as evidence and
    the reported http(s) links as sources; its reports are told that a debunk is being prepared."""
    from debunk.stock.attachments import attachment_add
    from debunk.stock.rumors import rumor_create, source_add

    require_perm(by, TRIAGE)
    if isinstance(verdict, str):
        verdict = VerdictLabel.objects.filter(code=verdict).first() or _refuse_verdict(verdict)
    claim = (cluster.text or "").strip()
    if not claim:
        raise ValidationError(
            _("This lead has no text to make a claim of: create the rumor by hand, then link the lead to it."),
            code="no_text",
        )
    with transaction.atomic():
        row = _locked(cluster, Status.OPEN)
        rumor = rumor_create(by=by, claim=claim, category=row.category, verdict=verdict)
        seen: set[str] = set()
        for image in ReportImage.objects.filter(content__cluster=row).order_by("content_id", "position"):
            if image.sha256 in seen or len(seen) >= MAX_CARRIED:
                continue
            seen.add(image.sha256)
            try:
                with image.file.open("rb") as stored:
                    attachment_add(
                        rumor=rumor,
                        by=by,
                        upload=stored,
                        name=f"report-{image.content_id}-{image.position}",
                        role=Attachment.Role.EVIDENCE,
                        caption=_("Screenshot of reported content #%(id)s") % {"id": image.content_id},
                    )
            except (OSError, ValidationError):
                continue  # a missing or unreadable file: the report keeps it, the draft goes without
        for url in _links(row):
            try:
                source_add(rumor=rumor, by=by, url=url)
            except ValidationError:
                continue
        _decide(row, by=by, status=Status.DRAFTED, action="lead.draft", rumor=rumor)
        _tell(_pending(row), Outcome.DRAFTED, rumor)
    cluster.refresh_from_db()
    return rumor


def _refuse_verdict(code: str) -> VerdictLabel:
    raise ValidationError(_("Unknown verdict: %(code)s.") % {"code": code}, code="unknown_verdict")


def _links(row: LeadCluster) -> list[str]:
    """The lead's reported links that are valid http(s) URLs, once each, most reported first."""
    valid = URLValidator(schemes=["http", "https"])
    limit = RumorSource._meta.get_field("url").max_length
    found: list[str] = []
    for url in ReportContent.objects.filter(cluster=row).exclude(url="").values_list("url", flat=True):
        url = url.strip()
        if not url or url in found or len(url) > limit:
            continue
        try:
            valid(url)
        except ValidationError:
            continue
        found.append(url)
        if len(found) >= MAX_CARRIED:
            break
    return found


def lead_dismiss(cluster: LeadCluster, reason: str, by: Any) -> LeadCluster:
    """Dismiss an open lead, saying why; its reports are told it was looked into and closed."""
    require_perm(by, TRIAGE)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give a reason for dismissing the lead."), code="reason_required")
    with transaction.atomic():
        row = _locked(cluster, Status.OPEN)
        _decide(row, by=by, status=Status.DISMISSED, action="lead.dismiss", reason=reason)
        _tell(_pending(row), Outcome.DISMISSED, None)
    cluster.refresh_from_db()
    return cluster


def lead_reopen(cluster: LeadCluster, by: Any, reason: str = "") -> LeadCluster:
    """Reopen a dismissed lead (a mistaken dismissal): back in the queue, its dismissed reports pending again (they
    are told the next decision)."""
    require_perm(by, TRIAGE)
    with transaction.atomic():
        row = _locked(cluster, Status.DISMISSED)
        before = snapshot(row)
        row.status, row.reason, row.decided_at, row.decided_by = Status.OPEN, "", None, None
        row.save(update_fields=["status", "reason", "decided_at", "decided_by"])
        RumorReport.objects.filter(content__cluster=row, outcome=Outcome.DISMISSED).update(
            outcome=Outcome.PENDING, outcome_at=None
        )
        lead_first_action(row, by)
        audit_record(
            actor=by, action="lead.reopen", target=row, changes=diff(before, snapshot(row)), reason=(reason or "")
        )
    cluster.refresh_from_db()
    return cluster


def reports_rumor_published(rumor: Rumor, by: Any) -> int:
    """The stock's publish calls this (in its transaction): the reports of the leads linked to, or drafted as,
    this rumor that were told a debunk is being prepared are told it is published. Returns how many."""
    told = 0
    for row in LeadCluster.objects.filter(rumor=rumor, status__in=[Status.LINKED, Status.DRAFTED]).order_by("pk"):
        reports = list(
            RumorReport.objects.filter(content__cluster=row, outcome=Outcome.DRAFTED)
            .select_related("content")
            .order_by("pk")
        )
        if not reports:
            continue
        _tell(reports, Outcome.DEBUNKED, rumor)
        audit_record(
            actor=by,
            action="lead.rumor_published",
            target=row,
            changes={"reports_debunked": [0, len(reports)]},
        )
        told += len(reports)
    return told


# --- evidence stays while a report is open ---------------------------------------------------------------------------


def _open_reports(reports: Any) -> bool:
    return reports.filter(outcome__in=[Outcome.PENDING, Outcome.DRAFTED]).exists()


def report_check_deletable(obj: RumorReport | ReportContent | ReportImage) -> None:
    """Refuse deleting a report, a content or a screenshot while a report of it is open (pending, or a debunk
    being prepared): it is the report's evidence."""
    if isinstance(obj, RumorReport):
        reports = RumorReport.objects.filter(pk=obj.pk)
    elif isinstance(obj, ReportContent):
        reports = RumorReport.objects.filter(content_id=obj.pk)
    else:
        reports = RumorReport.objects.filter(content_id=obj.content_id)
    if _open_reports(reports):
        raise ValidationError(
            _("A report of this content is still open: its evidence is never altered or deleted until it is decided."),
            code="report_open",
        )


DELETE_PERMS = {
    RumorReport: ("debunk.delete_rumorreport", "report.delete"),
    ReportContent: ("debunk.delete_reportcontent", "report_content.delete"),
    ReportImage: ("debunk.delete_reportimage", "report_image.delete"),
}


def report_evidence_delete(obj: RumorReport | ReportContent | ReportImage, by: Any) -> None:
    """Delete a decided report, content or screenshot (audited); refused while any report of it is open. A
    screenshot's file goes once the deletion has committed."""
    perm, action = DELETE_PERMS[type(obj)]
    files = [obj.file] if isinstance(obj, ReportImage) and obj.file else []
    if isinstance(obj, ReportContent):
        files = [image.file for image in obj.images.all() if image.file]
    audited_delete(obj, by=by, perm=perm, action=action, check=report_check_deletable)
    for stored in files:
        if not ReportImage.objects.filter(file=stored.name).exists():
            transaction.on_commit(lambda f=stored: f.storage.delete(f.name), robust=True)


# --- time to first action ------------------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def first_action_figures(days: int = 30) -> dict[str, Any]:
    """Time to first action over the leads first reported in the last `days` days (median and 90th percentile, in
    hours, of those acted on; how many are still waiting), per category too, and the overdue open leads now."""
    now = timezone.now()
    rows = LeadCluster.objects.filter(first_reported_at__gte=now - timedelta(days=days)).values_list(
        "category_id", "first_reported_at", "first_action_at"
    )
    hours: list[float] = []
    per_category: dict[int, list[float]] = {}
    waiting = 0
    for category_id, reported_at, acted_at in rows:
        if acted_at is None:
            waiting += 1
            continue
        value = max((acted_at - reported_at).total_seconds(), 0.0) / 3600
        hours.append(value)
        per_category.setdefault(category_id, []).append(value)
    overdue = LeadCluster.objects.filter(status=Status.OPEN, deadline_at__lt=now).count()
    from labels.models import Category

    names = {c.pk: str(c) for c in Category.objects.filter(pk__in=list(per_category))}
    categories = sorted(
        ({"category": names.get(pk, str(pk)), "median": median(v), "count": len(v)} for pk, v in per_category.items()),
        key=lambda c: -c["median"],
    )
    top = max((c["median"] for c in categories), default=0.0)
    for c in categories:
        c["percent"] = round(100 * c["median"] / top) if top else 0
    return {
        "days": days,
        "acted": len(hours),
        "waiting": waiting,
        "median_hours": median(hours) if hours else None,
        "p90_hours": _percentile(hours, 90) if hours else None,
        "overdue": overdue,
        "categories": categories,
    }
