"""The claim tier through the real match API: rewordings suggested with their evidence, thresholds per verdict label,
allow-list, freshness, and precise containment (issue 13)."""

import pytest

from debunk.matching import claim_decisions, suspects
from debunk.matching.models import AllowListEntry, Match, Post
from debunk.matching.services import reset_caches
from debunk.stock import rumors as svc
from debunk.stock.models import RumorVariant
from labels.models import VerdictLabel
from tests.api.conftest import api_client, make_key, make_platform
from tests.factories import publish_rumor

CLAIM = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
# the same claim in other words: few runs of text in common (no near-duplicate decision), its distinctive words kept
REWORDED = "听朋友说自来水厂那边出了污染，全市可能要停水三天，家里赶紧多囤点水吧"
UNRELATED = "今天天气很好，我们一家人去公园散步，看到很多人在放风筝，孩子们玩得很开心。"
OTHERS = [  # the rest of a small stock, so that document frequencies mean something
    "网传某地发生七级地震，请大家今晚不要睡在家里，赶紧转发提醒身边的人",
    "喝板蓝根可以预防新冠病毒感染，一天三次效果最好，家里老人小孩都要喝",
    "明天起全市公交停运一周，所有学校停课，请家长提前做好准备",
    "某超市食用油检出致癌物，已经有多人中毒住院，千万不要再买了",
]


REVIEW = 0.15  # the label's claim review threshold here: the reworded post scores about 0.19, the others under 0.08


@pytest.fixture
def stock(checker, reviewer):
    VerdictLabel.objects.filter(code="false").update(claim_review_threshold=REVIEW)
    rumor = publish_rumor(checker, reviewer, claim=CLAIM, verdict="false")
    for text in OTHERS:
        publish_rumor(checker, reviewer, claim=text, verdict="false")
    return rumor


@pytest.fixture
def client(db):
    return api_client(make_key(make_platform())[1])


def claim_matches(body: dict) -> list[dict]:
    return [m for m in body["matches"] if m["stage"] == "claim"]


def post(client, text: str, **fields) -> dict:
    response = client.post("/api/v1/match", {"text": text, **fields}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_reworded_post_gets_a_claim_stage_suspected_match_with_terms(client, stock):
    body = post(client, REWORDED, platform_post_id="p1")
    assert (body["matched"], body["action"]) == (True, "review")
    [match] = body["matches"]
    assert (match["rumor_id"], match["stage"], match["decision"]) == (stock.pk, "claim", "suspected")
    assert REVIEW <= match["score"] <= 1
    assert match["similarity"] == match["score"] and match["evidence"] == []
    assert 1 <= len(match["terms"]) <= 5
    assert all(term in REWORDED and term in CLAIM for term in match["terms"])  # shared, as written
    queued = Match.objects.get()
    assert (queued.post.platform_post_id, queued.rumor_id, queued.status) == ("p1", stock.pk, "suspected")
    assert (queued.stage, queued.rank, queued.evidence) == ("claim", 1, match["terms"])


def test_unrelated_text_does_not_match(client, stock):
    body = post(client, UNRELATED, platform_post_id="p2")
    assert (body["matched"], body["matches"]) == (False, [])
    assert not Post.objects.exists()


def test_a_copy_stays_a_near_duplicate_match(client, stock):
    [match] = post(client, CLAIM)["matches"]
    assert (match["stage"], match["decision"]) == ("near_duplicate", "matched")
    assert "score" not in match and "terms" not in match


def test_a_label_with_a_claim_auto_threshold_acts_automatically(client, stock):
    verdict = VerdictLabel.objects.get(code="false")
    found = post(client, REWORDED)["matches"][0]
    verdict.claim_auto_threshold = found["score"]  # at the threshold: automatic
    verdict.save()
    reset_caches()
    queued = Match.objects.count()  # the first answer's suggestion
    body = post(client, REWORDED, platform_post_id="p3")
    assert (body["action"], body["matches"][0]["decision"]) == (verdict.default_action, "matched")
    assert body["matches"][0]["stage"] == "claim"
    assert Match.objects.count() == queued  # decided: nothing more queued
    verdict.claim_auto_threshold = None
    verdict.claim_review_threshold = min(found["score"] + 0.01, 1.0)  # under the review threshold: nothing
    verdict.save()
    reset_caches()
    assert post(client, REWORDED)["matched"] is False


def test_a_retracted_rumor_stops_matching_within_the_poll(client, stock, reviewer, settings):
    assert post(client, REWORDED)["matched"] is True
    svc.rumor_retract(rumor=stock, by=reviewer, reason="撤回测试")
    assert post(client, REWORDED)["matched"] is False  # MATCH_INDEX_POLL_SECONDS is 0 in the tests


def test_a_new_variant_is_searched_at_once(client, stock, reviewer):
    text = "据说城东燃气管道要大检修，下个月停气一周，大家提前把煤气罐备好"
    assert not any(m["rumor_id"] == stock.pk for m in post(client, text)["matches"])
    svc.variant_add(rumor=stock, by=reviewer, text="燃气管道大检修，下个月城东停气一周，请提前备好煤气罐")
    assert any(m["rumor_id"] == stock.pk for m in post(client, text)["matches"])


def test_rejecting_a_claim_match_allow_lists_the_text(client, stock, reviewer):
    post(client, REWORDED, platform_post_id="p4")
    match = Match.objects.get()
    suspects.match_reject(match=match, by=reviewer, reason="不是同一说法")
    assert AllowListEntry.objects.filter(rumor=stock).count() == 1
    assert post(client, REWORDED)["matched"] is False


def test_confirming_a_claim_match_adds_the_post_as_a_variant(client, stock, reviewer):
    post(client, REWORDED, platform_post_id="p5")
    variant = suspects.match_confirm(match=Match.objects.get(), by=reviewer)
    assert isinstance(variant, RumorVariant) and variant.text == REWORDED
    [match] = post(client, REWORDED)["matches"]
    assert (match["stage"], match["decision"]) == ("near_duplicate", "matched")  # now a copy of a variant


def test_claim_matching_off(client, stock, settings):
    settings.CLAIM_MATCHING = False
    reset_caches()
    assert post(client, REWORDED)["matched"] is False
    assert post(client, CLAIM)["matched"] is True


def test_a_batch_ranks_and_queues_claim_suggestions(client, stock):
    response = client.post(
        "/api/v1/match/batch",
        {"items": [{"id": "a", "text": REWORDED, "platform_post_id": "b1"}, {"id": "b", "text": UNRELATED}]},
        format="json",
    )
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert claim_matches(first)[0]["rumor_id"] == stock.pk and second["matched"] is False
    assert list(Match.objects.values_list("stage", "rank")) == [("claim", 1)]


BOILERPLATE = "本市卫生健康委员会通报：昨日0时至24时，本市新增新冠肺炎确诊病例十例，新增无症状感染者三例"


def test_boilerplate_contained_in_unrelated_news_does_not_decide(client, checker, reviewer, settings):
    """A rumor made mostly of official wording, whose official part only is in real news: plain containment decides
    it; the IDF-weighted containment (that wording is common in the archive's posts) is lower, and under
    CLAIM_WEIGHTED_CONTAINMENT_MIN it no longer decides. A whole copy of the rumor inside the news still does."""
    rumor = publish_rumor(checker, reviewer, claim=BOILERPLATE + "，都是第一人民医院的医生护士", verdict="false")
    for text in OTHERS:
        publish_rumor(checker, reviewer, claim=text, verdict="false")
    platform = make_platform(code="news", name="News")
    for k, (n, m, tail) in enumerate(
        [("五", "二", "，均为境外输入"), ("八", "一", "，治愈出院五例"), ("两", "零", "")] * 3
    ):
        text = BOILERPLATE.replace("十例", f"{n}例").replace("三例", f"{m}例") + tail
        Post.objects.create(platform=platform, platform_post_id=f"n{k}", text=text, archived=True)
    news = (
        "据了解，" + BOILERPLATE + "，均为集中隔离点内发现，已全部转运至定点医院治疗。请广大市民继续做好个人防护，"
        "勤洗手、戴口罩、常通风，非必要不聚集。"
    )

    def near_duplicate(text: str) -> list[dict]:
        reset_caches()
        found = post(client, text)["matches"]
        return [m for m in found if m["rumor_id"] == rumor.pk and m["stage"] == "near_duplicate"]

    settings.CLAIM_MATCHING = False
    [plain] = near_duplicate(news)
    assert plain["containment"] >= settings.MATCH_CONTAINMENT_REVIEW > plain["similarity"]
    settings.CLAIM_MATCHING = True
    [weighted] = claim_decisions.search([news], k=50)
    [contained] = [h.containment for h in weighted if h.rumor_id == rumor.pk]
    assert contained < plain["containment"]  # the official wording weighs little
    settings.CLAIM_WEIGHTED_CONTAINMENT_MIN = contained + 0.01
    assert near_duplicate(news) == []
    settings.CLAIM_WEIGHTED_CONTAINMENT_MIN = contained - 0.01
    assert near_duplicate(news) != []
    settings.CLAIM_WEIGHTED_CONTAINMENT_MIN = 0.99
    assert near_duplicate(news + "网传：" + BOILERPLATE + "，都是第一人民医院的医生护士") != []


# --- the suspected-match queue in the admin -------------------------------------------------------------------------


def test_the_queue_shows_stage_rank_and_terms_and_filters_by_stage(client, stock, reviewer):
    from django.test import Client
    from django.urls import reverse

    post(client, REWORDED, platform_post_id="r1")
    verdict = VerdictLabel.objects.get(code="false")
    verdict.match_auto_threshold, verdict.match_review_threshold = 0.99, 0.3
    verdict.save()
    reset_caches()
    post(client, CLAIM.replace("三天", "一周").replace("囤水", "存水"), platform_post_id="n1")  # a near-duplicate
    claim_match = Match.objects.get(post__platform_post_id="r1")
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(reviewer)
    url = reverse("admin:debunk_match_changelist")
    page = browser.get(url).content.decode()
    assert "claim (reworded)" in page and "(#1)" in page and "near-duplicate" in page
    for term in claim_match.evidence:
        assert f'<mark class="evidence-term">{term}</mark>' in page
    only = browser.get(url, {"stage__exact": "claim"}).context["cl"].result_list
    assert [m.post.platform_post_id for m in only] == ["r1"]
    detail = browser.get(reverse("admin:debunk_match_change", args=[claim_match.pk])).content.decode()
    assert "claim score" in detail and 'class="evidence-term"' in detail
    assert f"<mark>{claim_match.evidence[0]}</mark>" in detail  # the term marked in the post and the rumor's text
    # confirming from the admin adds the reworded post as a variant
    response = browser.post(reverse("admin:debunk_match_decide", args=[claim_match.pk, "confirm"]), follow=True)
    assert "the text is now a variant" in response.content.decode()
    assert stock.variants.filter(text=REWORDED).exists()
