"""The public report page, its result page with the signed receipt, and the receipt check page (test client)."""

import copy
import io
import json

import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from debunk.api.models import Platform
from debunk.matching.services import reset_caches
from debunk.public.reporting import receipt_token
from debunk.reports.models import LeadCluster, ReportContent, ReportImage, RumorReport
from debunk.reports.receipts import receipt_verify
from tests.factories import publish_rumor

CLAIM = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
LEAD = "网传本市明天起所有小学停课两周，因为出现了一种新的传染病，教育局已经下发文件，请家长做好准备"


@pytest.fixture(autouse=True)
def fresh(db):
    cache.clear()  # the throttle's counters
    reset_caches()
    yield
    cache.clear()
    reset_caches()


@pytest.fixture
def client() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="zh-hans")


@pytest.fixture
def platforms(db):
    return (
        Platform.objects.create(code="weibo", name="微博"),
        Platform.objects.create(code="gone", name="Closed platform", is_active=False),
    )


def png(seed: int = 1) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).resize((256, 256)).save(out, "PNG")
    return out.getvalue()


def upload(data: bytes, name: str = "shot.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


def nothing_stored() -> bool:
    return not (
        RumorReport.objects.exists()
        or ReportContent.objects.exists()
        or LeadCluster.objects.exists()
        or ReportImage.objects.exists()
    )


def test_the_form_lists_categories_and_active_platforms(client, platforms):
    response = client.get("/report/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "举报谣言" in body and 'name="csrfmiddlewaretoken"' in body
    assert 'value="livelihood"' in body and "突发公共事件" in body and "— 疫情" in body
    assert "微博" in body and "Closed platform" not in body
    assert 'type="file"' in body and "multiple" in body
    english = Client(HTTP_ACCEPT_LANGUAGE="en").get("/report/").content.decode()
    assert "Report a rumor" in english and "Public emergencies" in english and "— Epidemics" in english


def test_the_site_header_links_the_report_page(client):
    body = client.get("/").content.decode()
    assert 'href="/report/"' in body and "举报谣言" in body


BAD = [
    ("no category", {"text": LEAD}, "category"),
    ("unknown category", {"category": "nope", "text": LEAD}, "category"),
    ("neither text nor screenshot", {"category": "livelihood", "url": "http://example.com/x"}, "__all__"),
    ("only blanks", {"category": "livelihood", "text": "   \n  "}, "__all__"),
    ("bad e-mail", {"category": "livelihood", "text": LEAD, "contact": "not-an-address"}, "contact"),
    ("unknown platform", {"category": "livelihood", "text": LEAD, "where": "myspace"}, "where"),
    ("inactive platform", {"category": "livelihood", "text": LEAD, "where": "gone"}, "where"),
    ("honeypot", {"category": "livelihood", "text": LEAD, "website": "http://spam.example"}, "website"),
    ("text too long", {"category": "livelihood", "text": "谣" * 5001}, "text"),
    ("link too long", {"category": "livelihood", "text": LEAD, "url": "x" * 2001}, "url"),
]


@pytest.mark.parametrize("data,field", [(d, f) for _, d, f in BAD], ids=[name for name, _, _ in BAD])
def test_bad_input_shows_the_form_again_with_errors_and_stores_nothing(client, platforms, data, field):
    response = client.post("/report/", data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert 'class="field-error"' in response.content.decode() or field == "__all__"
    assert nothing_stored()


@pytest.mark.parametrize(
    "files,code",
    [
        ([SimpleUploadedFile("a.txt", b"just some text, not a picture", content_type="text/plain")], "not_an_image"),
        ([SimpleUploadedFile("e.png", b"", content_type="image/png")], "empty"),
        ([upload(png()[:300], "cut.png")], "truncated"),
        ([upload(png(i), f"{i}.png") for i in range(6)], "too_many"),
    ],
    ids=["not an image", "empty file", "truncated", "six screenshots"],
)
def test_bad_screenshots_are_refused_with_a_clear_error(client, files, code):
    response = client.post("/report/", {"category": "livelihood", "text": LEAD, "images": files})
    assert response.status_code == 400
    errors = response.context["form"].errors.as_data()["images"]
    assert errors[0].code == code
    assert nothing_stored()


def test_a_large_image_is_refused_with_the_limit_in_the_message(client, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    response = client.post("/report/", {"category": "livelihood", "text": LEAD, "images": [upload(png())]})
    assert response.status_code == 400
    assert "shot.png" in response.context["form"].errors["images"][0]
    assert "1,000" in response.context["form"].errors["images"][0]
    assert nothing_stored()


def test_a_new_rumor_is_received_joins_a_lead_and_gets_a_signed_receipt(client, platforms):
    response = client.post(
        "/report/",
        {
            "category": "livelihood",
            "text": LEAD,
            "url": "http://evil.example/post/1",
            "where": "weibo",
            "contact": "reader@example.org",
            "involves_minor": "on",
            "images": [upload(png(3))],
        },
    )
    assert response.status_code == 303
    report = RumorReport.objects.get()
    assert response["Location"] == f"/report/{report.pk}/receipt/?k={receipt_token(report.pk)}"
    assert (report.source, report.where, report.contact, report.language) == (
        "public",
        "微博",
        "reader@example.org",
        "zh-hans",
    )
    assert report.involves_minor and report.rumor_id is None and report.outcome == "pending"
    assert report.content.url == "http://evil.example/post/1"
    assert report.content.images.get().file.read() == png(3)
    page = client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert "已收到" in body and "线索" in body
    assert "http://evil.example/post/1" in body and 'href="http://evil.example' not in body  # never a link
    shown = json.loads(page.context["receipt_json"])
    assert shown == report.receipt and receipt_verify(shown)
    assert page.context["download_url"] in body
    assert "no-store" in page["Cache-Control"]


def test_a_body_larger_than_any_report_is_refused_unread(client):
    response = client.post("/report/", {"category": "livelihood", "text": LEAD}, CONTENT_LENGTH=str(10**10))
    assert response.status_code == 413
    assert "过大" in response.content.decode()
    assert nothing_stored()


def test_a_report_of_a_published_rumor_links_its_debunk(client, checker, reviewer):
    rumor = publish_rumor(checker, reviewer, claim=CLAIM, title="自来水厂被污染停水三天？假的")
    reset_caches()
    response = client.post("/report/", {"category": "livelihood", "text": CLAIM})
    assert response.status_code == 303
    report = RumorReport.objects.get()
    assert report.rumor_id == rumor.pk and report.outcome == "debunked"
    body = client.get(response["Location"]).content.decode()
    assert f'href="/rumors/{rumor.pk}/"' in body
    assert "自来水厂被污染停水三天？假的" in body and "已经辟谣" in body


def test_a_screenshot_alone_is_enough(client):
    response = client.post("/report/", {"category": "livelihood", "images": [upload(png(5))]})
    assert response.status_code == 303
    assert RumorReport.objects.get().content.images.count() == 1


def test_other_place_and_the_english_page(client):
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = english.post(
        "/report/", {"category": "livelihood", "text": LEAD, "where": "other", "where_other": "a group chat"}
    )
    assert response.status_code == 303
    report = RumorReport.objects.get()
    assert (report.where, report.language) == ("a group chat", "en")
    body = english.get(response["Location"]).content.decode()
    assert "Your signed receipt" in body and "Download receipt" in body


def test_the_result_page_needs_its_token(client):
    client.post("/report/", {"category": "livelihood", "text": LEAD})
    client.post("/report/", {"category": "livelihood", "text": LEAD + "，再转"})
    first, second = RumorReport.objects.order_by("pk")
    assert client.get(f"/report/{first.pk}/receipt/").status_code == 404
    assert client.get(f"/report/{first.pk}/receipt/?k=forged").status_code == 404
    assert client.get(f"/report/{first.pk}/receipt/?k={receipt_token(second.pk)}").status_code == 404
    assert client.get(f"/report/{first.pk}/receipt.json?k={receipt_token(second.pk)}").status_code == 404
    assert client.get(f"/report/{first.pk}/receipt/?k={receipt_token(first.pk)}").status_code == 200


def test_the_receipt_downloads_as_a_json_file(client):
    client.post("/report/", {"category": "livelihood", "text": LEAD})
    report = RumorReport.objects.get()
    response = client.get(f"/report/{report.pk}/receipt.json?k={receipt_token(report.pk)}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert f'attachment; filename="debunk-receipt-{report.pk}.json"' == response["Content-Disposition"]
    assert json.loads(response.content) == report.receipt


def test_posting_needs_the_csrf_token():
    response = Client(enforce_csrf_checks=True).post("/report/", {"category": "livelihood", "text": LEAD})
    assert response.status_code == 403 and nothing_stored()


def test_too_many_posts_from_one_client_get_429(client, settings):
    settings.REPORT_PUBLIC_RATE = "2/hour"
    for i in range(2):
        assert client.post("/report/", {"category": "livelihood", "text": f"{LEAD} {i}"}).status_code == 303
    response = client.post("/report/", {"category": "livelihood", "text": LEAD + " 3"})
    assert response.status_code == 429
    assert response["Retry-After"] == "3600"
    assert "太多" in response.content.decode()
    assert RumorReport.objects.count() == 2
    other = Client(HTTP_ACCEPT_LANGUAGE="zh-hans", REMOTE_ADDR="10.9.8.7")
    assert other.post("/report/", {"category": "livelihood", "text": LEAD + " 4"}).status_code == 303


def test_bad_posts_count_against_the_budget_too(client, settings):
    settings.REPORT_PUBLIC_RATE = "1/min"
    assert client.post("/report/", {"category": "livelihood"}).status_code == 400
    assert client.post("/report/", {"category": "livelihood", "text": LEAD}).status_code == 429
    assert nothing_stored()


# --- the receipt check page ----------------------------------------------------------------------------------------


@pytest.fixture
def receipt(client) -> dict:
    client.post("/report/", {"category": "livelihood", "text": LEAD})
    return RumorReport.objects.get().receipt


def test_verify_page_shows_the_public_key(client):
    response = client.get("/report/verify/")
    assert response.status_code == 200 and response.context["public_key"] in response.content.decode()


def test_a_pasted_genuine_receipt_is_valid(client, receipt):
    response = client.post("/report/verify/", {"receipt": json.dumps(receipt, indent=2)})
    assert response.status_code == 200 and response.context["valid"] is True
    assert "真实且未被修改" in response.content.decode()


def test_an_uploaded_receipt_file_is_checked(client, receipt):
    data = json.dumps(receipt).encode("utf-8-sig")
    file = SimpleUploadedFile("r.json", data, content_type="application/json")
    response = client.post("/report/verify/", {"receipt_file": file})
    assert response.status_code == 200 and response.context["valid"] is True


@pytest.mark.parametrize("field,value", [("report_id", 999999), ("received_at", "2020-01-01T00:00:00+00:00")])
def test_a_tampered_receipt_is_not_valid(client, receipt, field, value):
    tampered = copy.deepcopy(receipt)
    tampered[field] = value
    response = client.post("/report/verify/", {"receipt": json.dumps(tampered)})
    assert response.status_code == 200 and response.context["valid"] is False
    assert "无效" in response.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"receipt": "{not json"},
        {"receipt": "[1, 2]"},
        {"receipt": "   "},
        {"receipt": "[" * 30000 + "]" * 30000},
        {"receipt_file": SimpleUploadedFile("r.json", b"\xff\xfe\x00garbage")},
    ],
    ids=["bad JSON", "not an object", "empty", "nested too deep", "binary file"],
)
def test_bad_receipt_input_is_a_form_error(client, data):
    response = client.post("/report/verify/", data)
    assert response.status_code == 400
    assert response.context["form"].non_field_errors()
    assert "valid" not in response.context


def test_the_check_page_is_throttled_too(client, settings, receipt):
    settings.REPORT_PUBLIC_RATE = "1/min"
    cache.clear()
    assert client.post("/report/verify/", {"receipt": json.dumps(receipt)}).status_code == 200
    response = client.post("/report/verify/", {"receipt": json.dumps(receipt)})
    assert response.status_code == 429 and response["Retry-After"] == "60"
