"""The claim index (debunk.matching.claims): rewordings found, unrelated text not, boilerplate weighs little,
snapshots round-trip, deltas behave like a rebuild's membership."""

import numpy as np
import pytest

from debunk.matching.claims import ClaimEntry, ClaimHit, ClaimIndex, terms_of

RUMORS = {
    1: "石正丽凌晨发出警告：对疫情不必抱有太大乐观，蚊虫或成第三宿主",
    2: "美国的10艘医疗军舰已经开进纽约港",
    3: "吴好运入住泉州欣佳宾馆，没躲过追杀",
    4: "钟南山院士已空降北京",
    5: "Obama was born in Kenya, says the senator from Illinois",
}
BOILERPLATE = "新冠肺炎确诊病例"
BACKGROUND = [
    f"{BOILERPLATE}{tail}"
    for tail in ["今日新增三例", "累计一百例", "全部治愈出院", "本市通报", "各地通报情况", "疾控中心提醒", "出门戴口罩"]
]


def _index(**kwargs) -> ClaimIndex:
    return ClaimIndex([ClaimEntry(r, r, t) for r, t in RUMORS.items()], **kwargs)


def _ids(hits: list[ClaimHit]) -> list[int]:
    return [h.rumor_id for h in hits]


def test_reworded_post_finds_its_rumor_first():
    index = _index()
    hits = index.search(
        [
            "听说武汉病毒所的石正丽说了，蚊子可能成为第三宿主！大家快装纱窗",
            "纽约港今天来了美国10艘军舰，全是医疗的",
            "Senator from Illinois says Obama born in Kenya!!",
        ]
    )
    assert [_ids(h)[0] for h in hits] == [1, 2, 5]
    for h in hits:
        assert 0 < h[0].score <= 1 and 0 < h[0].containment <= 1


def test_evidence_terms_are_shared_and_distinctive():
    hit = _index().search(["听说武汉病毒所的石正丽说了，蚊子可能成为第三宿主"])[0][0]
    assert 1 <= len(hit.terms) <= 5
    post = "听说武汉病毒所的石正丽说了蚊子可能成为第三宿主"
    assert all(term in post and term in RUMORS[1].replace("：", "").replace("，", "") for term in hit.terms)
    assert any("石正丽" in t or "宿主" in t for t in hit.terms)


def test_unrelated_text_matches_nothing_much():
    index = _index()
    hits = index.search(["今天天气很好，我们去公园散步吧", "I like green tea with lemon"])
    for h in hits:
        assert all(x.score < 0.1 for x in h)


def test_copy_scores_near_one():
    hit = _index().search([RUMORS[3]])[0][0]
    assert hit.rumor_id == 3 and hit.score > 0.99 and hit.containment > 0.99


def test_boilerplate_weighs_little_with_a_background():
    entries = [
        ClaimEntry(1, 1, f"{BOILERPLATE}：钟南山说板蓝根能预防"),
        ClaimEntry(2, 2, "喝高度白酒可以杀死病毒"),
    ]
    post = f"{BOILERPLATE}今日本市又增加了"
    plain = ClaimIndex(entries).search([post])[0]
    informed = ClaimIndex(entries, background=BACKGROUND).search([post])[0]
    assert _ids(plain) == [1] and _ids(informed) == [1]
    assert informed[0].score < plain[0].score
    # the distinctive part of the claim outweighs the boilerplate
    claim = ClaimIndex(entries, background=BACKGROUND).search(["钟南山说板蓝根能预防"])[0][0]
    assert claim.score > 2 * informed[0].score


def test_save_load_round_trip(tmp_path):
    index = _index(background=BACKGROUND, version=7)
    index.save(tmp_path)
    loaded = ClaimIndex.load(tmp_path, 9)
    assert loaded.version == loaded.snapshot_version == 9
    assert isinstance(loaded._a["vocab"], np.memmap)
    posts = ["纽约港今天来了美国10艘军舰", "钟南山已经到北京了", "", "Obama Kenya"]
    assert loaded.search(posts, k=3) == index.search(posts, k=3)


def test_deltas_add_replace_and_remove():
    index = _index()
    clone = index.clone(5)
    clone.add(ClaimEntry(-10, 6, "喝高度白酒可以杀死新冠病毒"))
    clone.add(ClaimEntry(2, 2, "美国航母开进了旧金山湾"))  # replaces rumor 2's text
    clone.remove_rumor(3)
    assert clone.version == 5 and clone.snapshot_version == 0
    assert clone.delta_size == 3  # 2 added (one replacing a snapshot text), rumor 3's text removed
    assert len(index) == 5 and len(clone) == 5  # 5 - rumor 3 - the replaced text + 2 added
    post_wine = "据说喝白酒能杀死病毒"
    post_ships = "美国的10艘医疗军舰已经开进纽约港"
    post_wu = RUMORS[3]
    wine, ships, wu = clone.search([post_wine, post_ships, post_wu])
    assert _ids(wine)[0] == 6
    assert ships == [] or ships[0].score < 0.5  # the old text of rumor 2 is gone
    assert 3 not in _ids(wu)
    assert _ids(clone.search(["美国航母开进了旧金山湾"])[0])[0] == 2
    # the original is untouched by its clone's deltas
    assert 6 not in _ids(index.search([post_wine])[0])
    assert _ids(index.search([post_wu])[0])[0] == 3
    # a rumor added then removed in the deltas is gone
    clone.remove_rumor(6)
    assert 6 not in _ids(clone.search([post_wine])[0])


def test_best_text_of_a_rumor_stands_for_it():
    index = ClaimIndex([ClaimEntry(1, 1, "钟南山院士已空降北京"), ClaimEntry(-1, 1, "喝板蓝根可以预防新冠")])
    hits = index.search(["钟南山院士已空降北京", "喝板蓝根可以预防新冠"])
    assert [len(h) for h in hits] == [1, 1]
    assert hits[0][0].score > 0.99 and hits[1][0].score > 0.99


def test_empty_index_and_empty_queries():
    empty = ClaimIndex([])
    assert empty.search(["钟南山院士已空降北京", ""]) == [[], []]
    assert empty.search([]) == []
    index = _index()
    assert index.search(["", "！！！。。。", "   ", "🙏🙏[蜡烛]"]) == [[], [], [], []]
    # deltas on an empty snapshot
    clone = empty.clone(1)
    clone.add(ClaimEntry(1, 1, "钟南山院士已空降北京"))
    assert _ids(clone.search(["钟南山空降北京了"])[0]) == [1]


def test_k_limits_and_orders_the_hits():
    index = ClaimIndex([ClaimEntry(i, i, f"钟南山院士{'已空降北京到达武汉抵达上海'[: i + 2]}") for i in range(1, 8)])
    hits = index.search(["钟南山院士已空降北京到达武汉"], k=3)[0]
    assert len(hits) == 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(index.search(["钟南山院士"], k=10)[0]) == 7
    assert index.search(["钟南山院士"], k=0) == [[]]


def test_min_score_filters():
    index = _index()
    post = ["纽约港今天来了美国10艘军舰，钟南山"]
    all_hits = index.search(post)[0]
    assert len(all_hits) >= 2
    cut = (all_hits[0].score + all_hits[1].score) / 2
    assert _ids(index.search(post, min_score=cut)[0]) == [all_hits[0].rumor_id]


def test_duplicate_entry_ids_are_refused():
    with pytest.raises(ValueError):
        ClaimIndex([ClaimEntry(1, 1, "a b c"), ClaimEntry(1, 2, "d e f")])


def test_terms_cjk_ngrams_and_latin_words():
    t = terms_of(["石正丽说", "Hello, World"])
    cjk = {t.text(i) for i in range(t.off[0], t.off[1])}
    assert cjk == {"石正", "正丽", "丽说"}  # CJK_NGRAMS = (2,)
    latin = {t.text(i) for i in range(t.off[1], t.off[2])}
    assert {"hello", "world", "hel", "ello", "orld"} <= latin and "lowo" not in latin  # no n-gram across words


def test_a_post_quoting_the_claim_among_much_else_contains_it():
    post = "转发一下，" + RUMORS[4] + "，另外今天天气很好，我们去公园散步，晚上吃火锅，明天还要上班，大家早点睡觉"
    hit = _index().search([post])[0][0]
    assert hit.rumor_id == 4 and hit.containment > 0.99 and hit.score < 1.0


def test_traditional_and_full_width_fold_to_the_same_terms():
    index = _index()
    simplified = index.search(["钟南山院士已空降北京"])[0][0]
    traditional = index.search(["鍾南山院士已空降北京！！"])[0][0]
    assert traditional.rumor_id == simplified.rumor_id == 4
    assert traditional.score == pytest.approx(simplified.score)
    assert index.search(["ＯＢＡＭＡ　ｋｅｎｙａ"])[0][0].rumor_id == 5


def test_score_floor_is_the_lowest_threshold_any_label_acts_on():
    from types import SimpleNamespace

    from debunk.matching.claim_decisions import SLACK, score_floor

    labels = [
        SimpleNamespace(claim_review_threshold=0.45, claim_auto_threshold=None),
        SimpleNamespace(claim_review_threshold=0.3, claim_auto_threshold=0.8),
        SimpleNamespace(claim_review_threshold=0.6, claim_auto_threshold=0.25),  # auto under review: still acts
    ]
    assert score_floor(labels) == pytest.approx(0.25 - SLACK)
    assert score_floor([]) == 0.0
