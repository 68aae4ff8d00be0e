"""eval_warning on a tiny synthetic dataset (the shared data is not needed)."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from debunk.bench.warning_eval import read_cascades, split

SMALL_GRID = {"alpha": [0.1], "floor_per_hour": [0.2], "p_max": [1e-4], "min_count": [3]}


def _weibo_line(cid: str, start: int, n: int, spacing: int) -> str:
    posts = [
        {"post_id": f"{cid}-{i}", "user_id": f"u{i}", "time": "", "unix_time": start + i * spacing, "parent_id": None}
        for i in range(n)
    ]
    return json.dumps({"cascade_id": cid, "ground_truth": {"source_post_id": f"{cid}-0"}, "posts": posts})


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "propagation.jsonl"
    lines = [_weibo_line(f"c{i}", 1_400_000_000 + i * 86400, 200, 15) for i in range(12)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_and_splits_both_halves(dataset):
    cascades = read_cascades(dataset)
    assert len(cascades) == 12 and all(c.times.size == 200 for c in cascades)
    dev, held = split(cascades)
    assert dev and held and len(dev) + len(held) == 12


def test_twitter_format(tmp_path):
    root = ["u0", "1", 0.0]
    edges = [[root, [f"u{i}", "1", float(i)]] for i in range(1, 6)] + [[root, ["u1", "1", 1.0]]]  # a duplicate edge
    path = tmp_path / "tw.jsonl"
    path.write_text(json.dumps({"cascade_id": "twitter15:1", "edges": edges}) + "\n", encoding="utf-8")
    (cascade,) = read_cascades(path)
    assert cascade.times.size == 6 and cascade.times[-1] - cascade.times[0] == 300


def test_command_json_on_fast_cascades_alerts_early(dataset, monkeypatch):
    monkeypatch.setattr("debunk.bench.warning_eval.GRID", SMALL_GRID)
    out = StringIO()
    call_command("eval_warning", dataset=str(dataset), json=True, stdout=out)
    result = json.loads(out.getvalue())
    for key in ("median_alert_fraction", "alerted_share", "false_alerts_per_day", "median_alert_delay_minutes"):
        assert key in result
    assert result["cascades"] + result["development"]["cascades"] == 12
    assert result["bin_minutes"] == 10 and result["parameters"]["min_count"] == 3
    # 200 hits at one per 15 s: 40 per 10-minute bin, against a baseline of a few an hour
    assert result["alerted_share"] == 1.0
    assert result["median_alert_fraction"] < 0.25 and result["median_alert_delay_minutes"] <= 20
    assert "held-out" in result["chosen_by"]


def test_command_summary(dataset, monkeypatch):
    monkeypatch.setattr("debunk.bench.warning_eval.GRID", SMALL_GRID)
    out = StringIO()
    call_command("eval_warning", dataset=str(dataset), bin_minutes=60, stdout=out)
    assert "median alert fraction" in out.getvalue() and "60-minute bins" in out.getvalue()


def test_missing_dataset_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("eval_warning", dataset=str(tmp_path / "absent.jsonl"))


def test_malformed_dataset_is_a_command_error(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"cascade_id": "x"}\n', encoding="utf-8")
    with pytest.raises(CommandError, match="line 1"):
        call_command("eval_warning", dataset=str(path))
