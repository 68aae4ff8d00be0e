"""The reports admin: the lead queue (open by default, filters, figures), a lead's page with its evidence and the
triage buttons, private screenshots, read-only reports and outboxes, deletes refused while a report is open."""

from datetime import timedelta

import pytest
from django.utils import timezone

from debunk.api.models import Platform
from debunk.images.services import query_image
from debunk.reports import triage
from debunk.reports.intake import ReportItem, reports_submit
from debunk.reports.models import LeadCluster, ReportContent, ReporterMessage, ReportImage, RumorReport
from debunk.stock.models import Rumor
from tests.factories import UserFactory, publish_rumor
from tests.reports.test_intake import LEAD, png

QUEUE = "/admin/debunk/leadcluster/"
OTHER = "网传某地发生八级地震，请大家不要出门，消息来自内部人员，千万不要外传，赶紧告诉家里人"
MINOR = "网传某小学学生在校门口被陌生人带走，家长们注意接送孩子，已经有多名孩子失踪了，大家转发"


@pytest.fixture
def leads(category):
    """An open lead with a screenshot and a contact, an open lead involving a minor, and a dismissed one."""
    shot = query_image(png(11))
    reports_submit(
        [
            ReportItem(category, text=LEAD, images=(shot,), contact="a@example.org", language="en", views=500),
            ReportItem(category, text=LEAD, url="https://example.org/p/1", reposts=3),
        ]
    )
    reports_submit([ReportItem(category, text=MINOR, involves_minor=True)])
    reports_submit([ReportItem(category, text=OTHER)])
    by_text = {c.text: c for c in LeadCluster.objects.all()}
    return by_text[LEAD], by_text[MINOR], by_text[OTHER]


@pytest.fixture
def dismissed(leads, checker):
    triage.lead_dismiss(leads[2], "不是谣言", checker)
    return leads[2]


def get(client, url, **kwargs):
    return client.get(url, HTTP_ACCEPT_LANGUAGE="en", **kwargs)


def test_the_queue_shows_open_leads_minors_first_with_the_figures(client, checker, leads, dismissed):
    lead, minor, _ = leads
    client.force_login(checker)
    page = get(client, QUEUE).content.decode()
    assert f"{QUEUE}{lead.pk}/change/" in page and f"{QUEUE}{minor.pk}/change/" in page
    assert f"{QUEUE}{dismissed.pk}/change/" not in page  # open by default
    assert page.index(f"{QUEUE}{minor.pk}/change/") < page.index(f"{QUEUE}{lead.pk}/change/")
    assert 'id="ttfa-median"' in page and 'id="leads-overdue"' in page
    assert "3 / 500" in page  # reach: reposts / views
    every = get(client, f"{QUEUE}?status=all").content.decode()
    assert f"{QUEUE}{dismissed.pk}/change/" in every
    only = get(client, f"{QUEUE}?status=dismissed").content.decode()
    assert f"{QUEUE}{dismissed.pk}/change/" in only and f"{QUEUE}{lead.pk}/change/" not in only
    found = get(client, f"{QUEUE}?q=校门口").content.decode()
    assert f"{QUEUE}{minor.pk}/change/" in found and f"{QUEUE}{lead.pk}/change/" not in found
    minors = get(client, f"{QUEUE}?involves_minor__exact=1").content.decode()
    assert f"{QUEUE}{minor.pk}/change/" in minors and f"{QUEUE}{lead.pk}/change/" not in minors
    assert get(client, f"{QUEUE}?category__id__exact={lead.category_id}").status_code == 200


def test_overdue_leads_are_red_and_filtered(client, checker, leads):
    lead, minor, _ = leads
    LeadCluster.objects.filter(pk=lead.pk).update(deadline_at=timezone.now() - timedelta(hours=1))
    client.force_login(checker)
    page = get(client, f"{QUEUE}?overdue=yes").content.decode()
    assert "lead-overdue" in page and f"{QUEUE}{lead.pk}/change/" in page
    assert f"{QUEUE}{minor.pk}/change/" not in page
    assert 'id="leads-overdue" href="?overdue=yes">1<' in page


def test_the_queue_speaks_chinese(client, checker, leads):
    client.force_login(checker)
    page = client.get(QUEUE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "线索" in page and "首次处置" in page


def test_a_leads_page_shows_its_evidence_and_buttons(client, checker, leads):
    lead = leads[0]
    client.force_login(checker)
    page = get(client, f"{QUEUE}{lead.pk}/change/").content.decode()
    image = ReportImage.objects.get()
    assert f"/admin/debunk/leadcluster/screenshot/{image.pk}/preview/?size=s" in page
    assert "https://example.org/p/1" in page
    assert f"?content__cluster__id__exact={lead.pk}" in page
    for action in ("link", "draft", "dismiss"):
        assert f"{QUEUE}{lead.pk}/triage/{action}/" in page
    reports = get(client, f"/admin/debunk/rumorreport/?content__cluster__id__exact={lead.pk}")
    assert reports.status_code == 200 and reports.content.decode().count("/admin/debunk/rumorreport/") >= 2


def test_screenshots_are_served_to_staff_only(client, checker, leads):
    image = ReportImage.objects.get()
    url = f"/admin/debunk/leadcluster/screenshot/{image.pk}/"
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(UserFactory(username="nobody", roles=[]))
    assert client.get(url).status_code == 403
    client.force_login(checker)
    response = client.get(url)
    assert response.status_code == 200 and response["Cache-Control"].startswith("private")
    assert b"".join(response.streaming_content) == image.file.read()
    preview = client.get(f"{url}preview/?size=s")
    assert preview.status_code == 200 and preview["Content-Type"] == "image/jpeg"
    assert client.get(f"{url}preview/?size=xl").status_code == 400
    assert not image.file.url.startswith("/admin/")  # the file's own MEDIA_URL is never linked by the admin
    assert image.file.url not in get(client, f"{QUEUE}{leads[0].pk}/change/").content.decode()


def test_triage_through_the_buttons(client, checker, reviewer, leads):
    lead, minor, other = leads
    rumor = publish_rumor(checker, reviewer, claim="网传自来水厂被污染，全市停水三天，请大家囤水")
    client.force_login(checker)
    response = client.post(f"{QUEUE}{lead.pk}/triage/link/", {"link-rumor": rumor.pk}, follow=True)
    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.status, lead.rumor_id) == ("linked", rumor.pk)
    response = client.post(f"{QUEUE}{minor.pk}/triage/draft/", {"draft-verdict": "false"}, follow=True)
    minor.refresh_from_db()
    drafted = Rumor.objects.get(claim=MINOR)
    assert (minor.status, minor.rumor_id) == ("drafted", drafted.pk)
    assert f"/admin/debunk/rumor/{drafted.pk}/change/" in response.content.decode()
    response = client.post(f"{QUEUE}{other.pk}/triage/dismiss/", {"dismiss-reason": ""}, follow=True)
    other.refresh_from_db()
    assert other.status == "open" and response.status_code == 200 and b"errorlist" not in response.content
    assert len(list(response.context["messages"])) == 1
    client.post(f"{QUEUE}{other.pk}/triage/dismiss/", {"dismiss-reason": "重复"}, follow=True)
    other.refresh_from_db()
    assert other.status == "dismissed"
    page = get(client, f"{QUEUE}{other.pk}/change/").content.decode()
    assert f"{QUEUE}{other.pk}/triage/reopen/" in page and f"{QUEUE}{other.pk}/triage/dismiss/" not in page
    client.post(f"{QUEUE}{other.pk}/triage/reopen/", {}, follow=True)
    other.refresh_from_db()
    assert other.status == "open"


def test_bad_triage_posts_are_refused_cleanly(client, checker, leads):
    lead = leads[0]
    client.force_login(checker)
    for data in ({"link-rumor": "abc"}, {"link-rumor": "999999"}, {}):
        response = client.post(f"{QUEUE}{lead.pk}/triage/link/", data, follow=True)
        assert response.status_code == 200
    assert client.post(f"{QUEUE}{lead.pk}/triage/explode/", {}).status_code == 404
    assert client.post(f"{QUEUE}999999/triage/dismiss/", {"dismiss-reason": "x"}).status_code == 404
    assert client.get(f"{QUEUE}{lead.pk}/triage/dismiss/").status_code == 405
    response = client.post(f"{QUEUE}{lead.pk}/triage/draft/", {"draft-verdict": "nonsense"}, follow=True)
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.status == "open" and not Rumor.objects.exists()


def test_triage_buttons_need_the_permission(client, leads):
    lead = leads[0]
    viewer = UserFactory(username="viewer", roles=[])
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_leadcluster"))
    client.force_login(viewer)
    page = get(client, f"{QUEUE}{lead.pk}/change/").content.decode()
    assert "/triage/" not in page
    assert client.post(f"{QUEUE}{lead.pk}/triage/dismiss/", {"dismiss-reason": "x"}).status_code == 403
    lead.refresh_from_db()
    assert lead.status == "open"


def test_deleting_evidence_of_an_open_report_is_refused(client, checker, leads):
    root = UserFactory(username="root", is_superuser=True)
    lead = leads[0]
    report = RumorReport.objects.filter(content__cluster=lead).first()
    content, image = report.content, ReportImage.objects.get()
    client.force_login(root)
    for url in (
        f"/admin/debunk/rumorreport/{report.pk}/delete/",
        f"/admin/debunk/reportcontent/{content.pk}/delete/",
        f"/admin/debunk/reportimage/{image.pk}/delete/",
    ):
        page = get(client, url)
        assert page.status_code == 200 and b"still open" in page.content
        response = client.post(url, {"post": "yes"}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200 and b"still open" in response.content
    assert RumorReport.objects.filter(pk=report.pk).exists() and ReportContent.objects.filter(pk=content.pk).exists()
    assert ReportImage.objects.filter(pk=image.pk).exists()
    response = client.post(
        "/admin/debunk/rumorreport/",
        {"action": "delete_selected", "_selected_action": [report.pk], "post": "yes"},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert RumorReport.objects.filter(pk=report.pk).exists()
    triage.lead_dismiss(lead, "不是谣言", checker)
    response = client.post(f"/admin/debunk/rumorreport/{report.pk}/delete/", {"post": "yes"}, follow=True)
    assert response.status_code == 200 and not RumorReport.objects.filter(pk=report.pk).exists()


def test_read_only_pages_for_reports_and_outboxes(client, checker, administrator, leads, category):
    platform = Platform.objects.create(code="weibo", name="微博")
    reports_submit([ReportItem(category, text=LEAD, external_id="p1")], platform=platform)
    triage.lead_dismiss(leads[0], "不是谣言", checker)
    report = RumorReport.objects.get(external_id="p1")
    client.force_login(checker)
    listing = get(client, "/admin/debunk/rumorreport/?outcome__exact=dismissed&source__exact=platform")
    assert listing.status_code == 200 and f"/admin/debunk/rumorreport/{report.pk}/change/" in listing.content.decode()
    page = get(client, f"/admin/debunk/rumorreport/{report.pk}/change/").content.decode()
    assert "signature" in page and "Save" not in page
    assert get(client, "/admin/debunk/reportermessage/").status_code == 403  # administrators only
    client.force_login(administrator)
    message = ReporterMessage.objects.get()
    assert get(client, "/admin/debunk/reportermessage/").status_code == 200
    assert get(client, f"/admin/debunk/reportermessage/{message.pk}/change/").status_code == 200
    notices = get(client, "/admin/debunk/reportnotice/")
    assert notices.status_code == 200 and b"msg_" in notices.content


def test_the_admin_index_has_a_reports_section(client, checker):
    client.force_login(checker)
    page = get(client, "/admin/").content.decode()
    assert "Reports and leads" in page and QUEUE in page
