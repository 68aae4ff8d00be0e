"""Triage services: link, draft, dismiss, reopen, the publish hook, the first action, evidence kept while open,
and the time-to-first-action figures."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from debunk.core.models import AuditEvent
from debunk.images.services import query_image
from debunk.reports import triage
from debunk.reports.intake import ReportItem, reports_submit
from debunk.reports.models import LeadCluster, ReporterMessage, ReportImage, ReportNotice, RumorReport
from debunk.stock import debunks as debunk_services
from debunk.stock import rumors as rumor_services
from debunk.stock.models import Attachment, Rumor, RumorSource
from tests.factories import make_rumor, publish_rumor
from tests.reports.test_intake import LEAD, png

OTHER = "网传某地发生八级地震，请大家不要出门，消息来自内部人员，千万不要外传，赶紧告诉家里人"


@pytest.fixture
def lead(category, platform) -> LeadCluster:
    """An open lead of three reports: two from the public page (one left an English contact), one forwarded."""
    reports_submit([ReportItem(category, text=LEAD, contact="a@example.org", language="en")])
    reports_submit([ReportItem(category, text=LEAD)])
    [answer] = reports_submit([ReportItem(category, text=LEAD, external_id="p1", reporter="u1")], platform=platform)
    cluster = LeadCluster.objects.get(pk=answer.cluster_id)
    assert cluster.status == "open" and cluster.report_count == 3
    return cluster


def outcomes(cluster: LeadCluster) -> set[str]:
    return set(RumorReport.objects.filter(content__cluster=cluster).values_list("outcome", flat=True))


def test_linking_to_a_live_rumor_tells_the_reports_the_debunk(lead, checker, reviewer):
    rumor = publish_rumor(checker, reviewer, claim=OTHER)
    triage.lead_link(lead, rumor, checker, reason="同一谣言")
    lead.refresh_from_db()
    assert (lead.status, lead.rumor_id, lead.decided_by, lead.reason) == ("linked", rumor.pk, checker, "同一谣言")
    assert lead.first_action_by == checker and lead.first_action_at is not None
    assert outcomes(lead) == {"debunked"}
    assert set(RumorReport.objects.filter(content__cluster=lead).values_list("rumor_id", flat=True)) == {rumor.pk}
    message = ReporterMessage.objects.get()
    assert message.to == "a@example.org"
    assert "A published debunk applies" in message.body and f"/rumors/{rumor.pk}/" in message.body
    notice = ReportNotice.objects.get()
    assert notice.payload["outcome"] == "debunked" and notice.payload["rumor_id"] == rumor.pk
    event = AuditEvent.objects.get(action="lead.link")
    assert event.actor == checker and event.changes["status"] == ["open", "linked"]


def test_triage_needs_the_permission_and_changes_nothing_without(lead, outsider, checker, reviewer):
    rumor = publish_rumor(checker, reviewer, claim=OTHER)
    for call in [
        lambda: triage.lead_link(lead, rumor, outsider),
        lambda: triage.lead_draft(lead, outsider),
        lambda: triage.lead_dismiss(lead, "不是谣言", outsider),
        lambda: triage.lead_reopen(lead, outsider),
    ]:
        with pytest.raises(PermissionDenied):
            call()
    lead.refresh_from_db()
    assert lead.status == "open" and lead.first_action_at is None
    assert outcomes(lead) == {"pending"}
    assert not AuditEvent.objects.filter(action__startswith="lead.").exists()


def test_a_decided_lead_is_not_decided_again(lead, checker):
    triage.lead_dismiss(lead, "重复线索", checker)
    with pytest.raises(ValidationError):
        triage.lead_dismiss(lead, "again", checker)
    with pytest.raises(ValidationError):
        triage.lead_draft(lead, checker)


def test_linking_to_a_draft_then_publishing_tells_the_reports_twice(lead, checker, reviewer):
    rumor = make_rumor(checker, claim=OTHER)
    triage.lead_link(lead, rumor, checker)
    assert outcomes(lead) == {"drafted"}
    first = ReporterMessage.objects.get()
    assert "preparing a debunk" in first.body
    rumor_services.rumor_submit(rumor=rumor, by=checker)
    rumor_services.rumor_publish(rumor=rumor, by=reviewer)
    assert outcomes(lead) == {"debunked"}
    latest = ReporterMessage.objects.exclude(pk=first.pk).get()
    assert "A published debunk applies" in latest.body
    assert list(ReportNotice.objects.order_by("pk").values_list("payload__outcome", flat=True)) == [
        "drafted",
        "debunked",
    ]
    assert AuditEvent.objects.filter(action="lead.rumor_published", target_id=str(lead.pk)).exists()
    # a new report of the same content is now told the debunk at once
    [again] = reports_submit([ReportItem(lead.category, text=LEAD)])
    assert RumorReport.objects.get(pk=again.id).outcome == "debunked" and again.rumor_id == rumor.pk


def test_linking_to_a_retracted_rumor_is_refused(lead, checker, reviewer):
    rumor = publish_rumor(checker, reviewer, claim=OTHER)
    rumor_services.rumor_retract(rumor=rumor, by=reviewer, reason="核实有误")
    with pytest.raises(ValidationError):
        triage.lead_link(lead, rumor, checker)
    lead.refresh_from_db()
    assert lead.status == "open"


def test_a_draft_rumor_carries_the_claim_screenshots_and_links(category, checker, reviewer):
    shot = png(7)
    reports_submit(
        [
            ReportItem(category, text=LEAD, url="https://example.org/post/1", images=(query_image(shot),)),
            ReportItem(category, text=LEAD, url="javascript:alert(1)", contact="b@example.org", language="en"),
            ReportItem(category, text=LEAD, url="not a link"),
        ]
    )
    lead = LeadCluster.objects.get()
    rumor = triage.lead_draft(lead, checker, verdict="misleading")
    assert (rumor.status, rumor.claim, rumor.category, rumor.verdict.code) == (
        "draft",
        LEAD,
        category,
        "misleading",
    )
    assert rumor.created_by == checker
    attachment = Attachment.objects.get(rumor=rumor)
    assert attachment.role == "evidence" and attachment.kind == "image"
    assert list(RumorSource.objects.filter(rumor=rumor).values_list("url", flat=True)) == ["https://example.org/post/1"]
    lead.refresh_from_db()
    assert (lead.status, lead.rumor_id) == ("drafted", rumor.pk)
    assert outcomes(lead) == {"drafted"}
    assert "preparing a debunk" in ReporterMessage.objects.get().body
    assert AuditEvent.objects.filter(action="lead.draft", actor=checker).exists()
    assert AuditEvent.objects.filter(action="rumor.create", target_id=str(rumor.pk)).exists()
    # the evidence of the reports is untouched
    assert ReportImage.objects.get().file.read() == shot
    # published: the reports learn it
    debunk_services.debunk_create(rumor=rumor, by=checker, title="辟谣", summary="不实", body="经核实不实。")
    rumor_services.rumor_submit(rumor=rumor, by=checker)
    rumor_services.rumor_publish(rumor=rumor, by=reviewer)
    assert outcomes(lead) == {"debunked"}
    assert ReporterMessage.objects.filter(body__contains=f"/rumors/{rumor.pk}/").count() == 1


def test_a_lead_without_text_cannot_become_a_claim(category, checker):
    reports_submit([ReportItem(category, images=(query_image(png(3)),))])
    lead = LeadCluster.objects.get()
    with pytest.raises(ValidationError):
        triage.lead_draft(lead, checker)
    assert not Rumor.objects.exists()


def test_dismissing_needs_a_reason_and_tells_the_reports(lead, checker):
    with pytest.raises(ValidationError):
        triage.lead_dismiss(lead, "  ", checker)
    lead.refresh_from_db()
    assert lead.status == "open" and lead.first_action_at is None
    triage.lead_dismiss(lead, "内容属实，不是谣言", checker)
    lead.refresh_from_db()
    assert (lead.status, lead.reason) == ("dismissed", "内容属实，不是谣言")
    assert outcomes(lead) == {"dismissed"}
    assert "looked into your report and closed it" in ReporterMessage.objects.get().body
    assert ReportNotice.objects.get().payload["outcome"] == "dismissed"
    assert AuditEvent.objects.get(action="lead.dismiss").reason == "内容属实，不是谣言"


def test_reopening_a_dismissal_keeps_the_first_action(lead, checker, reviewer):
    triage.lead_dismiss(lead, "误判", checker)
    first_at = LeadCluster.objects.get(pk=lead.pk).first_action_at
    triage.lead_reopen(lead, reviewer)
    lead.refresh_from_db()
    assert (lead.status, lead.decided_at, lead.reason) == ("open", None, "")
    assert (lead.first_action_at, lead.first_action_by) == (first_at, checker)
    assert outcomes(lead) == {"pending"}
    assert AuditEvent.objects.filter(action="lead.reopen", actor=reviewer).exists()
    with pytest.raises(ValidationError):
        triage.lead_reopen(lead, reviewer)  # an open lead is not reopened


def test_evidence_of_an_open_report_cannot_be_deleted(lead, checker, superuser_or_admin):
    report = RumorReport.objects.filter(content__cluster=lead).first()
    content = report.content
    for obj in (report, content):
        with pytest.raises(ValidationError):
            triage.report_check_deletable(obj)
        with pytest.raises(ValidationError):
            triage.report_evidence_delete(obj, superuser_or_admin)
    assert RumorReport.objects.filter(pk=report.pk).exists()
    triage.lead_dismiss(lead, "不是谣言", checker)
    triage.report_check_deletable(report)  # decided: may go
    with pytest.raises(PermissionDenied):
        triage.report_evidence_delete(report, checker)
    triage.report_evidence_delete(report, superuser_or_admin)
    assert not RumorReport.objects.filter(pk=report.pk).exists()
    assert AuditEvent.objects.filter(action="report.delete").exists()


@pytest.fixture
def superuser_or_admin(db):
    from tests.factories import UserFactory

    return UserFactory(username="root", is_superuser=True)


def test_time_to_first_action_figures(category, checker):
    now = timezone.now()
    for hours in (1, 2, 3, 4, 10):
        cluster = LeadCluster.objects.create(
            category=category,
            text=f"lead {hours}",
            first_reported_at=now - timedelta(days=1),
            deadline_at=now + timedelta(days=1),
        )
        LeadCluster.objects.filter(pk=cluster.pk).update(
            first_action_at=cluster.first_reported_at + timedelta(hours=hours)
        )
    LeadCluster.objects.create(  # waiting and overdue
        category=category, text="late", first_reported_at=now - timedelta(days=2), deadline_at=now - timedelta(hours=1)
    )
    LeadCluster.objects.create(  # too old to count, but overdue
        category=category, text="old", first_reported_at=now - timedelta(days=40), deadline_at=now - timedelta(days=39)
    )
    figures = triage.first_action_figures(days=30)
    assert figures["acted"] == 5 and figures["waiting"] == 1 and figures["overdue"] == 2
    assert figures["median_hours"] == pytest.approx(3.0, abs=0.01)
    assert figures["p90_hours"] == pytest.approx(7.6, abs=0.01)  # 4 + 0.6 × (10 − 4)
    assert [c["count"] for c in figures["categories"]] == [5]


def test_a_new_report_of_a_dismissed_lead_is_told_the_decision_at_once(lead, category, checker):
    triage.lead_dismiss(lead, "内容属实，不是谣言", checker)
    [again] = reports_submit([ReportItem(category, text=LEAD, contact="b@example.org")])
    assert again.cluster_id == lead.pk
    assert RumorReport.objects.get(pk=again.id).outcome == "dismissed"
    assert ReporterMessage.objects.filter(to="b@example.org").exists()
    triage.lead_reopen(lead, checker)
    assert outcomes(lead) == {"pending"}
