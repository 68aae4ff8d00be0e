"""Public reports (weekly, monthly; idempotent), their pages and CSV, and the administrators' work ledger."""

import io
from datetime import date, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone, translation

from debunk.core.models import AuditEvent
from debunk.sanctions import reports
from debunk.sanctions import services as svc
from debunk.sanctions.models import Measure, Report, Sanction
from debunk.sanctions.tasks import publish_report
from tests.sanctions.conftest import account

pytestmark = pytest.mark.django_db


def test_periods_are_the_last_full_week_and_month():
    assert reports.period_of(kind="weekly", today=date(2026, 11, 21)) == (date(2026, 11, 9), date(2026, 11, 16))
    assert reports.period_of(kind="monthly", today=date(2026, 11, 21)) == (date(2026, 10, 1), date(2026, 11, 1))
    assert reports.period_of(kind="monthly", today=date(2026, 1, 1)) == (date(2025, 12, 1), date(2026, 1, 1))


@pytest.fixture
def last_week(rumor, platform_a, reviewer):
    """The rumor published and a typical warning applied in the last full week."""
    start, _end = reports.period_of(kind="weekly", today=timezone.localdate())
    at = timezone.make_aware(datetime.combine(start + timedelta(days=2), datetime.min.time()))
    type(rumor).objects.filter(pk=rumor.pk).update(published_at=at)
    sanction = Sanction.objects.create(
        rumor=rumor, platform=platform_a, author_hash=account("a"), measure="warning", recommended_measure="warning"
    )
    svc.sanction_apply(sanction=sanction, by=reviewer)
    svc.sanction_mark_typical(sanction=sanction, by=reviewer, typical=True, summary="首发停水谣言，予以警告")
    Sanction.objects.filter(pk=sanction.pk).update(approved_at=at)
    return sanction


def test_a_weekly_report_counts_and_is_published_once(last_week):
    report_id = publish_report("weekly")
    assert publish_report("weekly") == report_id
    report = Report.objects.get()
    assert report.data["rumors_by_category"][0]["category"] == "livelihood"
    assert report.data["sanctions_by_measure"] == [{"measure": "warning", "count": 1}]
    case = report.data["typical_cases"][0]
    assert case["summary"] == "首发停水谣言，予以警告" and "author_hash" not in case
    assert AuditEvent.objects.filter(action="report.publish").count() == 1


def test_the_public_pages_and_csv(client, last_week):
    report = Report.objects.get(pk=publish_report("weekly"))
    listing = client.get("/reports/")
    assert listing.status_code == 200 and f"/reports/{report.pk}/" in listing.content.decode()
    page = client.get(f"/reports/{report.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "首发停水谣言" in page and account("a") not in page and "warning" in page
    csv = client.get(f"/reports/{report.pk}/csv")
    assert csv["Content-Type"].startswith("text/csv")
    assert "sanctions_by_measure,warning,1" in csv.content.decode("utf-8-sig")
    assert client.get("/reports/999/").status_code == 404


def test_the_work_ledger_is_for_administrators_only(client, administrator, reviewer, last_week):
    today = timezone.localdate()
    url = f"/admin/debunk/report/ledger/?start={today - timedelta(days=1)}&end={today + timedelta(days=1)}"
    client.force_login(reviewer)
    assert client.get(url).status_code == 403
    client.force_login(administrator)
    response = client.get(url)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0].startswith("id,at,actor,action")
    assert "sanction.apply" in text and "sanction.typical" in text
    assert AuditEvent.objects.filter(action="ledger.export", actor=administrator).exists()


def test_monthly_report_of_an_empty_month(db):
    report = reports.report_publish(kind="monthly", today=date(2026, 1, 15))
    assert (report.period_start, report.period_end) == (date(2025, 12, 1), date(2026, 1, 1))
    assert report.data == {"rumors_by_category": [], "sanctions_by_measure": [], "typical_cases": []}


def test_overturned_sanctions_are_not_counted(last_week, reviewer2, platform_a):
    svc.sanction_appeal_submit(sanction=last_week, platform=platform_a, text="申诉")
    svc.sanction_appeal_decide(sanction=last_week, by=reviewer2, uphold=False, reason="撤销")
    report = Report.objects.get(pk=publish_report("weekly"))
    assert report.data["sanctions_by_measure"] == [] and Measure.WARNING not in str(report.data["typical_cases"])


# --- publishing on demand: the admin and the publish_report command, through report_publish_period -------------


def test_publishing_a_period_on_demand_is_audited_and_idempotent(administrator):
    report, published = reports.report_publish_period(kind="weekly", period_start=date(2026, 11, 9), by=administrator)
    assert published and (report.period_start, report.period_end) == (date(2026, 11, 9), date(2026, 11, 16))
    again, published = reports.report_publish_period(kind="weekly", period_start=date(2026, 11, 9), by=administrator)
    assert (again.pk, published) == (report.pk, False)
    assert Report.objects.count() == 1
    event = AuditEvent.objects.get(action="report.publish")
    assert event.actor == administrator and event.target_id == str(report.pk)


@pytest.mark.parametrize(
    "kind, start, message",
    [
        ("weekly", date(2026, 11, 10), "A weekly report starts on a Monday."),
        ("monthly", date(2026, 10, 2), "A monthly report starts on the 1st of a month."),
        ("yearly", date(2026, 1, 1), "A report is weekly or monthly."),
    ],
)
def test_a_period_that_is_not_one_is_refused(administrator, kind, start, message):
    with pytest.raises(ValidationError) as caught, translation.override("en"):
        reports.report_publish_period(kind=kind, period_start=start, by=administrator)
    assert message in caught.value.messages
    assert not Report.objects.exists() and not AuditEvent.objects.filter(action="report.publish").exists()


def test_a_period_not_over_yet_is_refused(administrator):
    this_week = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    with pytest.raises(ValidationError, match="not over yet"), translation.override("en"):
        reports.report_publish_period(kind="weekly", period_start=this_week, by=administrator)
    assert not Report.objects.exists()


def test_only_those_allowed_publish(reviewer):
    with pytest.raises(PermissionDenied):
        reports.report_publish_period(kind="weekly", by=reviewer)
    assert not Report.objects.exists()


def test_the_command_publishes_the_last_full_period_then_says_it_is_done(last_week):
    out = io.StringIO()
    call_command("publish_report", "weekly", stdout=out)
    report = Report.objects.get()
    assert report.data["sanctions_by_measure"] == [{"measure": "warning", "count": 1}]
    assert f"Published the weekly report of {report.period_start} to {report.period_end}" in out.getvalue()
    out = io.StringIO()
    call_command("publish_report", "weekly", stdout=out)
    assert "was already published" in out.getvalue() and "nothing changed" in out.getvalue()
    assert Report.objects.count() == 1 and AuditEvent.objects.filter(action="report.publish").count() == 1
    assert publish_report("weekly") == report.pk  # beat finds it published too


def test_the_command_takes_a_period_start_and_refuses_bad_ones(db):
    call_command("publish_report", "monthly", "--period-start", "2026-01-01", stdout=io.StringIO())
    assert Report.objects.get().period_end == date(2026, 2, 1)
    with pytest.raises(CommandError, match="a date such as 2026-11-09 is expected"):
        call_command("publish_report", "monthly", "--period-start", "01/02/2026", stdout=io.StringIO())
    with pytest.raises(CommandError, match="starts on the 1st"), translation.override("en"):
        call_command("publish_report", "monthly", "--period-start", "2026-02-02", stdout=io.StringIO())
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("publish_report", "yearly", stdout=io.StringIO())
    assert Report.objects.count() == 1


def test_the_admin_publishes_on_demand(client, administrator, last_week):
    client.force_login(administrator)
    listing = client.get("/admin/debunk/report/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "/admin/debunk/report/publish/" in listing and "Publish a report now" in listing
    assert client.get("/admin/debunk/report/publish/").status_code == 200
    response = client.post("/admin/debunk/report/publish/", {"kind": "weekly", "period_start": ""}, follow=True)
    report = Report.objects.get()
    assert report.data["sanctions_by_measure"] == [{"measure": "warning", "count": 1}]
    assert f"已发布报告 {report}。" in response.content.decode()
    response = client.post(
        "/admin/debunk/report/publish/",
        {"kind": "weekly", "period_start": str(report.period_start)},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "was already published; nothing changed." in response.content.decode()
    assert Report.objects.count() == 1
    assert AuditEvent.objects.get(action="report.publish").actor == administrator


def test_the_admin_form_shows_a_bad_period_and_publishes_nothing(client, administrator):
    client.force_login(administrator)
    response = client.post(
        "/admin/debunk/report/publish/", {"kind": "weekly", "period_start": "2026-11-10"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200 and "A weekly report starts on a Monday." in response.content.decode()
    assert not Report.objects.exists()


def test_the_admin_publish_page_is_for_those_allowed(client, reviewer):
    client.force_login(reviewer)
    assert "/admin/debunk/report/publish/" not in client.get("/admin/debunk/report/").content.decode()
    assert client.get("/admin/debunk/report/publish/").status_code == 403
    assert client.post("/admin/debunk/report/publish/", {"kind": "weekly"}).status_code == 403
    assert not Report.objects.exists()
