"""eval_match on a tiny invented dataset: figures per stratum, the database left as it was, bad input."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from debunk.core.models import AuditEvent
from debunk.matching.models import Fingerprint, IndexChange
from debunk.matching.services import match_text
from debunk.stock.models import Debunk, Rumor
from tests.matching.claim_standin import bigram_scores

RUMOR_A = "紧急扩散：某市明天全城停电三天，请大家赶紧准备蜡烛和充电宝，转发给身边的家人朋友"
RUMOR_B = "网传某地自来水中检出大量寄生虫，专家提醒千万不要直接饮用，一定要煮沸十分钟以上"
RUMOR_C = "Drinking hot water every fifteen minutes kills the virus in your throat, doctors say."
UNRELATED = [
    "今天天气很好，我们一家人去公园散步，看到很多人在放风筝",
    "周末做了红烧肉和清蒸鱼，孩子们吃得很开心，下次还要做",
    "The local library extends its opening hours on weekends starting next month.",
]


def record(rumor_id: str, text: str, positives: list[str], negatives: list[str], **extra) -> dict:
    return {
        "rumor_id": rumor_id,
        "dataset": "invented",
        "lang": "en" if text.isascii() else "zh",
        "rumor_text": text,
        "rumor_text_kind": "invented",
        "positives": [{"text": t, "kind": "copy", "post_id": f"p{i}"} for i, t in enumerate(positives)],
        "negatives": [{"text": t, "kind": "unrelated", "post_id": f"n{i}"} for i, t in enumerate(negatives)],
        **extra,
    }


@pytest.fixture(autouse=True)
def fresh_index(settings):
    settings.MATCH_INDEX_POLL_SECONDS = 0  # (tests/conftest.py gives each test its own MATCH_INDEX_DIR)


@pytest.fixture(autouse=True)
def fake_claim_index(monkeypatch):
    import debunk.bench.management.commands.eval_match as command

    monkeypatch.setattr(command, "claim_candidates", bigram_scores)


@pytest.fixture
def dataset(tmp_path):
    records = [
        record("zh:1", RUMOR_A, [RUMOR_A, "【" + RUMOR_A + "】😱😱"], UNRELATED[:2]),
        record("zh:2", RUMOR_B, [RUMOR_B], UNRELATED[:2], same_text_as=["zh:3"]),
        record("zh:3", RUMOR_B, [RUMOR_B + "！！"], [UNRELATED[0]], same_text_as=["zh:2"]),
        record("en:1", RUMOR_C, [RUMOR_C, RUMOR_C.upper()], UNRELATED),
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines.insert(2, "{not json")
    lines.insert(3, json.dumps({"rumor_id": "no-stratum", "rumor_text": "x"}))
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("eval_match", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def db_state() -> dict:
    return {
        "rumors": Rumor.objects.count(),
        "debunks": Debunk.objects.count(),
        "fingerprints": Fingerprint.objects.count(),
        "audit": AuditEvent.objects.count(),
        "users": get_user_model().objects.count(),
        "index_changes": IndexChange.objects.count(),
    }


def test_figures_per_stratum_and_the_database_is_unchanged(db, dataset, settings):
    before = db_state()
    out, err = run("--dataset", str(dataset), "--json")
    report = json.loads(out)
    assert set(report["strata"]) == {"zh", "en"}  # never pooled
    zh, en = report["strata"]["zh"], report["strata"]["en"]
    assert (zh["positives"], zh["negatives"], zh["rumors"]) == (4, 5, 2)  # zh:2 and zh:3 share one rumor
    assert (en["positives"], en["negatives"], en["rumors"]) == (2, 3, 1)
    for figures in (zh, en):  # the matcher as configured (thresholds of the stock)
        configured = figures["configured"]
        assert configured["recall"] == configured["recall_with_suspected"] == 1.0
        assert configured["precision"] == 1.0
        assert configured["false_match_rate"] == 0.0
        assert figures["false_matches_listed"] == 0
        assert figures["top5_recall"] == 1.0 and set(figures["stages"]) == {"near_duplicate", "claim"}
    # cross-validated thresholds need two rumors at least: en has one
    assert en["recall"] is None and "2 rumors" in en["note"]
    assert zh["recall"] is not None and zh["stages"]["near_duplicate"]["top5_recall"] == 1.0
    assert report["malformed_lines"] == 2
    assert isinstance(report["seconds"], float)
    assert "line 3:" in err and "line 4:" in err and "rolled back" in err
    assert db_state() == before
    assert not Path(settings.MATCH_INDEX_DIR).exists()  # no snapshot of the rolled-back rumors on disk
    assert match_text(text=RUMOR_A)["matched"] is False  # nothing of the run is left in the served index


def test_false_matches_are_counted(db, tmp_path):
    # RUMOR_B is a negative of zh:1 and a positive of zh:2: matching it to zh:2's rumor is a false match
    # for zh:1 (counted in false_matches_listed too), and a right one for zh:2.
    path = tmp_path / "pairs.jsonl"
    records = [record("zh:1", RUMOR_A, [UNRELATED[0]], [RUMOR_B]), record("zh:2", RUMOR_B, [RUMOR_B], [])]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    zh = json.loads(run("--dataset", str(path), "--json")[0])["strata"]["zh"]
    assert zh["configured"]["recall"] == 0.5
    assert zh["configured"]["false_match_rate"] == 1.0
    assert (zh["matches"], zh["configured"]["precision"], zh["false_matches_listed"]) == (2, 0.5, 1)
    # cross-validated, by the dataset's own labels: zh:1's negative RUMOR_B matched to zh:2's rumor (which lists it as
    # a positive) is right, not a false match; zh:1's unrelated positive is found by no stage
    assert (zh["recall"], zh["precision"], zh["false_match_rate"]) == (0.5, 1.0, 0.0)


def test_table_and_limit(db, dataset):
    out, _ = run("--dataset", str(dataset), "--limit", "1")
    assert "1 record(s)" in out and "rolled back" in out
    rows = {line.split()[0] for line in out.splitlines() if line[:3] in ("zh ", "en ")}
    assert rows == {"zh"}
    assert "false_match_rate:" in out  # the definitions are printed under the table


def test_missing_dataset_is_a_command_error(db, tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read the dataset .*missing\.jsonl"):
        run("--dataset", str(tmp_path / "missing.jsonl"))


def test_a_file_without_records_is_a_command_error(db, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"\xff\xfe\n[]\n")
    with pytest.raises(CommandError, match="no record to evaluate"):
        run("--dataset", str(path))


def test_candidate_recall_counts_the_reviewable_positives_the_matcher_misses(db, tmp_path, monkeypatch):
    """A comment sharing no text is not reviewable; of the two copies (both reviewable), one answer is emptied here
    as if the index had not offered the rumor: candidate recall 1/2."""
    import debunk.bench.management.commands.eval_match as command

    missed = "【" + RUMOR_A + "】😱😱"
    real = command.match_text

    def matcher(*, text: str) -> dict:
        answer = real(text=text)
        return {**answer, "matched": False, "matches": []} if text == missed else answer

    monkeypatch.setattr(command, "match_text", matcher)
    path = tmp_path / "pairs.jsonl"
    comment = "完全无关的评论，和原文没有任何相同的文字"
    path.write_text(json.dumps(record("zh:1", RUMOR_A, [RUMOR_A, missed, comment], []), ensure_ascii=False))
    zh = json.loads(run("--dataset", str(path), "--json")[0])["strata"]["zh"]
    assert (zh["positives"], zh["reviewable"], zh["candidate_recall"]) == (3, 2, 0.5)
