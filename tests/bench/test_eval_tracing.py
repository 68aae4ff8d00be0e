"""eval_tracing on tiny synthetic datasets in both formats (never the real ones)."""

import json

import pytest
from django.core.management import CommandError, call_command

from debunk.bench.tracing_eval import evaluate, read_cascades

TEXT = "网传某市自来水厂被污染，全市停水三天，请大家赶紧囤水"


def weibo_cascade(n: int, cid: str) -> dict:
    posts = [{"post_id": f"{cid}s", "user_id": "u_s", "unix_time": 1000, "parent_id": None, "text": TEXT}]
    for i in range(1, n):
        parent = None if i % 3 == 1 else f"{cid}p{(i // 3) * 3 + 1}"
        post_id = f"{cid}p{i}"
        parent = None if parent == post_id else parent
        posts.append(
            {"post_id": post_id, "user_id": f"u{i}", "unix_time": 1000 + 90 * i, "parent_id": parent, "text": ""}
        )
    return {"cascade_id": cid, "label": "rumor", "ground_truth": {"source_post_id": f"{cid}s"}, "posts": posts}


def twitter_cascade(cid: str) -> dict:
    root = ["u_r", "100", 0.0]
    a, b = ["u_a", "100", 1.5], ["u_b", "100", 3.0]
    edges = [[root, a], [root, b], [a, ["u_c", "100", 4.0]], [a, ["u_d", "100", 9.0]], [b, a], [a, root]]
    return {"cascade_id": cid, "ground_truth": {"source_tweet_id": "100", "source_user_id": "u_r"}, "edges": edges}


@pytest.fixture
def datasets(tmp_path):
    weibo = tmp_path / "propagation.jsonl"
    weibo.write_text("\n".join(json.dumps(weibo_cascade(n, f"c{n}")) for n in (3, 8, 20)) + "\n", encoding="utf-8")
    twitter = tmp_path / "propagation_twitter1516.jsonl"
    twitter.write_text(json.dumps(twitter_cascade("t1")) + "\n", encoding="utf-8")
    return weibo, twitter


def test_eval_tracing_json(datasets, capsys):
    weibo, twitter = datasets
    call_command("eval_tracing", "--dataset", str(weibo), "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["cascades"] == 3
    for key in ("accuracy_as_given", "accuracy_source_dropped", "accuracy_coarse_times", "accuracy_two_platforms"):
        assert result[key] == 1.0, key
    assert result["source_dropped"]["flagged_earliest_known"] == 1.0
    assert result["as_given"]["flagged_earliest_known"] == 0.0
    call_command("eval_tracing", "--dataset", str(twitter), "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["cascades"] == 1 and result["accuracy_as_given"] == 1.0 and result["accuracy_source_dropped"] == 1.0


def test_twitter_loops_and_duplicates_are_resolved(datasets):
    _, twitter = datasets
    [cascade] = list(read_cascades(twitter))
    parents = {r.key: r.parent for r in cascade.records}
    assert parents[cascade.source] is None  # the link into the source is dropped
    assert parents["u_a:100:1.5"] == cascade.source  # the first parent is kept, the loop is not made


def test_source_dropped_is_right_only_when_flagged(datasets):
    weibo, _ = datasets
    result = evaluate(read_cascades(weibo))
    assert result["source_dropped"]["right"] == 3


def test_table_output_and_missing_file(datasets, capsys, tmp_path):
    call_command("eval_tracing", "--dataset", str(datasets[0]))
    assert "(d) split across two platforms" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("eval_tracing", "--dataset", str(tmp_path / "absent.jsonl"))
