"""The platforms' reports API: POST /reports (per-item errors, idempotency, limits), receipt verification and the
public key (no key needed, throttled per address), the outcome pull feed, the outcome webhook and the beat's
retries (notices, e-mails to reporters)."""

import base64
import copy
import io
from datetime import timedelta

import numpy as np
import pytest
from django.core import mail
from django.utils import timezone
from PIL import Image

from debunk.core.roles import operator_user
from debunk.matching.services import reset_caches
from debunk.reports import signing
from debunk.reports.intake import ReportItem, reports_submit
from debunk.reports.models import LeadCluster, ReportContent, ReporterMessage, ReportNotice, RumorReport
from debunk.reports.tasks import deliver_report_notices, send_reporter_messages
from debunk.webhooks.models import OutboxMessage
from debunk.webhooks.services import endpoint_create
from labels.models import Category
from tests.api.conftest import api_client, clear_cache, make_key, make_platform  # noqa: F401 (clear_cache: fixture)
from tests.corrections import delivery_fixtures
from tests.factories import publish_rumor

REPORTS, VERIFY, KEY = "/api/v1/reports", "/api/v1/reports/verify", "/api/v1/reports/key"
OUTCOMES = "/api/v1/reports/outcomes"
allow_private, receiver = delivery_fixtures.allow_private, delivery_fixtures.receiver  # pytest fixtures
CLAIM = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
LEAD = "网传本市明天起所有小学停课两周，因为出现了一种新的传染病，教育局已经下发文件，请家长做好准备"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def platform(db):
    return make_platform("weibo", "Weibo")


@pytest.fixture
def other(db):
    return make_platform("douyin", "Douyin")


@pytest.fixture
def client(platform):
    return api_client(make_key(platform)[1])


@pytest.fixture
def other_client(other):
    return api_client(make_key(other)[1])


@pytest.fixture
def rumor(checker, reviewer):
    published = publish_rumor(checker, reviewer, claim=CLAIM)
    reset_caches()
    return published


def png(seed: int) -> str:
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).resize((256, 256)).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def item(external_id: str, **fields) -> dict:
    return {"external_id": external_id, "category": "livelihood", "text": LEAD, **fields}


def post(client, items) -> dict:
    response = client.post(REPORTS, {"items": items}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- POST /reports -------------------------------------------------------------------------------------------------


def test_a_good_batch_is_stored_matched_clustered_and_receipted(client, platform, rumor):
    text = "  " + LEAD + "\r\n\t"  # byte for byte: no trimming
    results = post(
        client,
        [
            item("a", text=text, reporter="user-1", reposts=12, views=3400, platform_post_id="p1", url=" http://x "),
            item("b", text=CLAIM, involves_minor=True),
            item("c", text="", images=[png(1), png(2)]),
        ],
    )
    assert [r["external_id"] for r in results] == ["a", "b", "c"]
    assert all(r["created"] and "error" not in r for r in results)
    a, b, c = (RumorReport.objects.select_related("content").get(pk=r["id"]) for r in results)
    assert a.platform == platform and a.source == "platform" and a.external_id == "a"
    assert a.content.text == text and a.content.url == " http://x "
    assert (a.reposts, a.views, a.platform_post_id, a.outcome) == (12, 3400, "p1", "pending")
    assert a.reporter_hash and "user-1" not in a.reporter_hash
    assert results[0]["rumor_id"] is None and results[0]["cluster_id"] == a.content.cluster_id
    assert results[1]["rumor_id"] == rumor.pk and b.outcome == "debunked" and b.involves_minor
    assert [i.sha256 for i in c.content.images.all()] == results[2]["receipt"]["image_sha256"]
    assert len(results[2]["receipt"]["image_sha256"]) == 2
    for result in results:
        assert result["receipt"]["report_id"] == result["id"]
        verdict = api_client().post(VERIFY, {"receipt": result["receipt"]}, format="json")
        assert verdict.status_code == 200 and verdict.json() == {"valid": True}


def test_a_mixed_batch_answers_each_item_and_stores_the_good_ones(client, settings):
    settings.REPORT_TEXT_MAX_CHARS = len(LEAD)
    bad_image = base64.b64encode(b"not an image at all").decode()
    items = [
        item("ok-1", text="短文本也可以"),
        item("cat", category="no-such-category"),
        item("empty", text="   "),
        item("img", images=[bad_image]),
        item("many", images=[png(i) for i in range(6)]),
        item("long", text="长" * (len(LEAD) + 1)),
        item("nul\x00id"),
        item("nul-text", text="a\x00b"),
        item("neg", views=-1),
        "not an object",
        item("bool", involves_minor="yes"),
        item("num", text=5),
        {"category": "livelihood", "text": LEAD},
        item("ok-2", text="另一条线索的文字", views=0, reposts=None),
    ]
    results = post(client, items)
    assert len(results) == len(items)
    errors = {r.get("external_id"): r["error"] for r in results if "error" in r}
    assert set(errors) == {"cat", "empty", "img", "many", "long", "nul\x00id", "nul-text", "neg", None, "bool", "num"}
    assert "category" in errors["cat"] and "no-such-category" in errors["cat"]["category"][0]
    assert list(errors["empty"]) == ["text"]
    assert list(errors["img"]) == ["images"] and "0" in errors["img"]["images"]  # the bad screenshot, by position
    assert errors["many"] == {"images": ["At most 5 screenshots."]}
    assert list(errors["long"]) == ["text"]
    assert list(errors["nul\x00id"]) == ["external_id"] and list(errors["nul-text"]) == ["text"]
    assert list(errors["neg"]) == ["views"] and list(errors["bool"]) == ["involves_minor"]
    assert list(errors["num"]) == ["text"]
    assert results[9] == {"external_id": None, "error": {"non_field_errors": ["Each item must be an object."]}}
    assert list(results[12]["error"]) == ["external_id"]
    assert results[0]["created"] and results[13]["created"]
    assert set(RumorReport.objects.values_list("external_id", flat=True)) == {"ok-1", "ok-2"}
    assert ReportContent.objects.count() == 2 and not ReportContent.objects.filter(images__isnull=False).exists()


def test_a_resubmitted_external_id_answers_the_same_report(client):
    [first] = post(client, [item("x")])
    [again, new] = post(client, [item("x", text="another text altogether"), item("y")])
    assert again == {**first, "created": False}
    assert new["created"] and new["id"] != first["id"]
    assert RumorReport.objects.count() == 2
    assert ReportContent.objects.get(text=LEAD).report_count == 2  # x and y: one content, folded


def test_the_same_external_id_on_two_platforms_is_two_reports(client, other_client):
    [a] = post(client, [item("x")])
    [b] = post(other_client, [item("x")])
    assert a["id"] != b["id"] and a["cluster_id"] == b["cluster_id"]


@pytest.mark.parametrize(
    "body",
    [
        {"items": [item(f"r{i}") for i in range(101)]},
        {"items": []},
        {"items": "abc"},
        {},
        ["not", "an", "object"],
    ],
    ids=["101 items", "no items", "items not a list", "no body", "a list"],
)
def test_a_bad_batch_is_a_400_and_stores_nothing(client, body):
    response = client.post(REPORTS, body, format="json")
    assert response.status_code == 400
    assert not RumorReport.objects.exists() and not LeadCluster.objects.exists()


def test_the_batch_limits_follow_the_settings(client, settings):
    settings.REPORT_MAX_ITEMS = 2
    response = client.post(REPORTS, {"items": [item("a"), item("b"), item("c")]}, format="json")
    assert response.status_code == 400 and "items" in response.json()
    settings.MATCH_BATCH_MAX_IMAGES = 3
    images = [item("a", images=[png(1), png(2)]), item("b", images=[png(3), png(4)])]
    response = client.post(REPORTS, {"items": images}, format="json")
    assert response.status_code == 400
    assert response.json() == {"items": ["At most 3 screenshots in a batch."]}
    assert not RumorReport.objects.exists()
    # an item refused for holding too many screenshots does not count (none of them is read)
    settings.REPORT_MAX_IMAGES = 1
    [refused, taken] = post(client, [item("a", images=[png(1), png(2)]), item("b", images=[png(3)])])
    assert "images" in refused["error"] and taken["created"]


def test_the_body_limit_is_the_image_endpoints(client, settings):
    settings.API_IMAGE_BODY_MAX_BYTES = 1000
    response = client.post(REPORTS, {"items": [item("a", images=[png(1)])]}, format="json")
    assert response.status_code == 413
    assert not RumorReport.objects.exists()


def test_reports_need_a_key(db):
    assert api_client().post(REPORTS, {"items": [item("a")]}, format="json").status_code == 401
    assert api_client("dk_nonsense").post(REPORTS, {"items": [item("a")]}, format="json").status_code == 401
    assert api_client().get(OUTCOMES).status_code == 401


# --- receipts ------------------------------------------------------------------------------------------------------


def test_verify_tells_a_genuine_receipt_from_a_tampered_one(client):
    [answer] = post(client, [item("a")])
    receipt = answer["receipt"]
    anonymous = api_client()
    assert anonymous.post(VERIFY, {"receipt": receipt}, format="json").json() == {"valid": True}
    assert client.post(VERIFY, {"receipt": receipt}, format="json").json() == {"valid": True}  # with a key too
    for field, value in [("text_sha256", "0" * 64), ("report_id", answer["id"] + 1), ("received_at", "2020")]:
        tampered = {**copy.deepcopy(receipt), field: value}
        response = anonymous.post(VERIFY, {"receipt": tampered}, format="json")
        assert response.status_code == 200 and response.json() == {"valid": False}, field
    assert anonymous.post(VERIFY, {"receipt": {}}, format="json").json() == {"valid": False}


@pytest.mark.parametrize("body", [{}, {"receipt": "abc"}, {"receipt": None}, {"receipt": [1]}, []])
def test_verify_without_a_receipt_object_is_a_400(db, body):
    response = api_client().post(VERIFY, body, format="json")
    assert response.status_code == 400
    if isinstance(body, dict):
        assert list(response.json()) == ["receipt"]


def test_the_key_endpoint_verifies_receipts_offline(client):
    [answer] = post(client, [item("a")])
    response = api_client().get(KEY)
    assert response.status_code == 200
    key = response.json()
    assert key["alg"] == "Ed25519" and len(base64.b64decode(key["public_key"])) == 32
    assert key["key_id"] == answer["receipt"]["key_id"]
    assert signing.verify(answer["receipt"], key["public_key"])
    assert not signing.verify({**answer["receipt"], "report_id": 0}, key["public_key"])


def test_the_keyless_endpoints_are_throttled_per_address(db, settings):
    settings.API_ANON_THROTTLE_RATE = "2/min"
    here, there = api_client(), api_client()
    assert [here.get(KEY).status_code for _ in range(3)] == [200, 200, 429]
    assert here.post(VERIFY, {"receipt": {}}, format="json").status_code == 429
    assert there.get(KEY, REMOTE_ADDR="10.0.0.9").status_code == 200  # another address: its own budget
    # X-Forwarded-For is not trusted without API_NUM_PROXIES: a forged one does not buy a new budget
    assert here.get(KEY, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429


# --- outcomes ------------------------------------------------------------------------------------------------------


def dismiss(report_id: int, at) -> None:
    RumorReport.objects.filter(pk=report_id).update(outcome="dismissed", outcome_at=at)


def test_the_outcome_feed_pages_oldest_first_and_shows_only_the_platforms_own(client, other_client, rumor):
    mine = post(client, [item(f"m{i}", text=f"{LEAD} 第{i}条") for i in range(4)] + [item("hit", text=CLAIM)])
    theirs = post(other_client, [item("t0", text=CLAIM), item("t1")])
    now = timezone.now()
    for k, result in enumerate(mine[:3]):  # m0, m1, m2 dismissed before the match came in; m3 still pending
        dismiss(result["id"], now - timedelta(hours=3 - k))
    dismiss(theirs[1]["id"], now - timedelta(hours=5))
    seen, url = [], OUTCOMES + "?page_size=2"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += page.json()["results"]
        url = page.json()["next"]
    assert [s["external_id"] for s in seen] == ["m0", "m1", "m2", "hit"]
    hit = seen[-1]
    assert hit == {
        "id": mine[4]["id"],
        "external_id": "hit",
        "outcome": "debunked",
        "rumor_id": rumor.pk,
        "outcome_at": hit["outcome_at"],
        "cluster_id": mine[4]["cluster_id"],
    }
    only = client.get(OUTCOMES, {"outcome": "debunked"}).json()["results"]
    assert [s["external_id"] for s in only] == ["hit"]
    assert [s["external_id"] for s in other_client.get(OUTCOMES).json()["results"]] == ["t1", "t0"]
    assert client.get(OUTCOMES, {"outcome": "pending"}).status_code == 400
    for cursor in ["not base64!", base64.b64encode(b"p=not-a-time").decode()]:
        assert client.get(OUTCOMES, {"cursor": cursor}).status_code == 404


# --- notices and the beat ------------------------------------------------------------------------------------------


def test_an_outcome_is_pushed_to_the_platforms_webhook(
    client, platform, rumor, receiver, django_capture_on_commit_callbacks
):
    endpoint_create(platform=platform, url=receiver.url, secret=receiver.secret, by=operator_user())
    with django_capture_on_commit_callbacks(execute=True):
        [answer] = post(client, [item("hit", text=CLAIM)])
    notice = ReportNotice.objects.get(report_id=answer["id"])
    assert notice.status == OutboxMessage.Status.DELIVERED
    [arrival] = receiver.received  # the sink checked the signature with the endpoint's secret (401 otherwise)
    assert arrival["webhook_id"] == notice.message_id
    payload = arrival["payload"]
    assert payload["type"] == "report.outcome"
    assert payload["data"]["id"] == answer["id"] and payload["data"]["rumor_id"] == rumor.pk
    assert payload["data"] == client.get(OUTCOMES).json()["results"][0]  # the webhook and the feed agree


def test_the_beat_sends_a_notice_once_an_endpoint_exists(
    client, platform, rumor, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        [answer] = post(client, [item("hit", text=CLAIM)])
    notice = ReportNotice.objects.get(report_id=answer["id"])
    assert notice.status == OutboxMessage.Status.PENDING and notice.last_response == "no active endpoint"
    assert deliver_report_notices() == 0  # waiting an hour, or for an endpoint
    receiver.answer(500)
    endpoint_create(platform=platform, url=receiver.url, secret=receiver.secret, by=operator_user())
    assert deliver_report_notices() == 1  # due at once: sent, and refused
    notice.refresh_from_db()
    assert notice.status == OutboxMessage.Status.RETRYING and notice.last_status_code == 500
    receiver.answer(204)
    ReportNotice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now())
    assert deliver_report_notices() == 1  # a new attempt: a new lease
    notice.refresh_from_db()
    assert notice.status == OutboxMessage.Status.DELIVERED and notice.attempts == 2
    assert deliver_report_notices() == 0
    assert [r["webhook_id"] for r in receiver.received] == [notice.message_id]


def test_the_beat_retries_a_reporters_email_with_backoff_until_failed(db, rumor, settings, monkeypatch):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.REPORT_MAIL_MAX_ATTEMPTS = 3
    category = Category.objects.get(code="livelihood")
    [answer] = reports_submit([ReportItem(category, text=CLAIM, contact="reporter@example.org")])
    message = ReporterMessage.objects.get(report_id=answer.id)
    assert send_reporter_messages() == 0  # just written: its own task sends it

    def age(minutes: float) -> None:
        ReporterMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("debunk.reports.notices.send_mail", broken)
    age(2)  # its task was lost: the beat tries it
    assert send_reporter_messages() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("pending", 1, "mail server down")
    assert send_reporter_messages() == 0  # next try 5 minutes after it was written
    age(6)
    assert send_reporter_messages() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("pending", 2)
    age(10)
    assert send_reporter_messages() == 0  # then 15 minutes after
    monkeypatch.undo()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    age(16)
    assert send_reporter_messages() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 3)
    [sent] = mail.outbox
    assert sent.to == ["reporter@example.org"] and f"/rumors/{rumor.pk}/" in sent.body
    assert send_reporter_messages() == 0


def test_an_email_that_keeps_failing_is_marked_failed(db, settings, monkeypatch):
    settings.REPORT_MAIL_MAX_ATTEMPTS = 2
    category = Category.objects.get(code="livelihood")
    [answer] = reports_submit([ReportItem(category, text=LEAD, contact="r@example.org")])
    report = RumorReport.objects.get(pk=answer.id)
    message = ReporterMessage.objects.create(report=report, to="r@example.org", subject="s", body="b")
    monkeypatch.setattr("debunk.reports.notices.send_mail", lambda *a, **k: 1 / 0)
    for minutes in (2, 6):
        ReporterMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))
        assert send_reporter_messages() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 2) and "division by zero" in message.last_error
    ReporterMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(days=1))
    assert send_reporter_messages() == 0


def test_item_errors_come_in_the_requests_language(platform):
    client = api_client(make_key(platform, "zh")[1])
    client.credentials(HTTP_AUTHORIZATION=client._credentials["HTTP_AUTHORIZATION"], HTTP_ACCEPT_LANGUAGE="zh-hans")
    [bad_category, empty] = post(client, [item("a", category="nope"), item("b", text=" ")])
    assert bad_category["error"] == {"category": ["未知的分类代码“nope”。"]}
    assert empty["error"] == {"text": ["请发送文本、截图或两者。"]}


@pytest.mark.parametrize("path", [REPORTS, VERIFY])
def test_json_nested_too_deeply_is_a_400(client, path):
    response = client.post(path, data="[" * 200_000, content_type="application/json")
    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"]
