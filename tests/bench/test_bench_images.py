"""bench_images on a tiny run (a few rumors, no HTTP): its keys and sane values, and its refusals."""

import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from debunk.bench.render import cjk_font_path

DATASETS = Path(settings.BASE_DIR).parent / "shared" / "datasets"
needs_data = pytest.mark.skipif(
    not (DATASETS / "claims_zh_checked.jsonl").is_file(),
    reason=f"no {DATASETS / 'claims_zh_checked.jsonl'} (the shared research datasets are not here)",
)
needs_font = pytest.mark.skipif(
    cjk_font_path() is None, reason="no CJK font to render screenshots: install Debian's fonts-noto-cjk"
)


@needs_data
@needs_font
def test_tiny_run_prints_every_figure():
    out = io.StringIO()
    call_command(
        "bench_images",
        *("--rumors", "3", "--stock", "12", "--unrelated", "10", "--sample", "1", "--ocr-unrelated", "1"),
        *("--transforms", "jpeg,crop", "--index-size", "1000", "--ocr-timing", "1", "--jobs", "1", "--no-http"),
        "--json",
        stdout=out,
        stderr=io.StringIO(),
    )
    figures = json.loads(out.getvalue())
    assert figures["stock_images"] == 12 and figures["queried_rumors"] == 3 and figures["unrelated_images"] == 10
    assert 3 <= figures["stock_rumor_screenshots"] <= 12
    assert figures["variants"] == 3 * 2
    for key in ("match_rate", "hash_match_rate", "ocr_match_rate", "ocr_match_rate_whole_text_only"):
        assert set(figures[key]) == {"jpeg", "crop"}, key
        assert all(v is None or 0 <= v <= 1 for v in figures[key].values()), key
    # untouched copies keep their hash; every transformation is matched one way or the other at least as often as
    # by hash alone
    assert figures["hash_match_rate"]["jpeg"] == 1.0
    assert all(figures["match_rate"][t] >= figures["hash_match_rate"][t] for t in ("jpeg", "crop"))
    assert figures["ocr_sampled_variants"] == {"jpeg": 1, "crop": 1}
    assert 0 <= figures["false_match_rate"] <= 1 and 0 <= figures["wrong_rumor_rate"] <= 1
    assert figures["false_matches_ocr"].endswith(" read")
    assert figures["ocr_ms_p50"] > 0 and figures["ocr_ms_p50_bench_images"] > 0
    assert figures["hash_ms_p50"] > 0
    assert figures["index_query_ms_1k"] > 0 and figures["numpy_scan_ms_1k"] > 0
    assert figures["index_agrees_with_numpy_1k"] is True
    assert "http_images_per_s_hash_only" not in figures  # --no-http
    assert figures["wall_s"] > 0


def test_absent_datasets_are_a_clear_command_error(tmp_path):
    with pytest.raises(CommandError, match=r"claims_zh_checked\.jsonl is absent"):
        call_command("bench_images", "--datasets", str(tmp_path), stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rumors", "0"], "--rumors"),
        (["--stock", "5", "--rumors", "10"], "--stock"),
        (["--unrelated", "0"], "--unrelated"),
        (["--sample", "-1"], "--sample"),
        (["--jobs", "0"], "--jobs"),
        (["--index-size", "10"], "--index-size"),
        (["--ocr-timing", "-1"], "--ocr-timing"),
        (["--transforms", "jpeg,blur"], "--transforms: unknown transformation blur"),
        (["--transforms", ","], "--transforms"),
    ],
)
def test_bad_options_are_command_errors(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("bench_images", *args, stdout=io.StringIO(), stderr=io.StringIO())


def _outcome(own, hashes=(), ocr=None):
    from debunk.bench.images import Outcome

    outcome = Outcome(own=own, quality=100, hashes=list(hashes))
    if ocr is not None:
        outcome.ocr_text, outcome.ocr = "…", list(ocr)
    return outcome


def test_the_product_rule_hash_first_then_ocr_estimated_on_the_read_ones():
    from debunk.bench.images import decided

    own = frozenset({1, 2})  # rumor 1 and its near-duplicate 2
    by_hash = _outcome(own, [(2, 10)])  # a near-duplicate by hash: matched
    wrong_hash = _outcome(own, [(7, 20), (1, 35)])  # another rumor within 31, its own only in the review band
    missed_read_ok = _outcome(own, [(1, 36)], ocr=[(1, 0.9)])
    missed_read_wrong = _outcome(own, [], ocr=[(9, 0.85), (1, 0.6)])
    missed_unread = _outcome(own, [])
    outcomes = [by_hash, wrong_hash, missed_read_ok, missed_read_wrong, missed_unread]
    # 3 missed by hash, OCR's shares among the 2 read: own 1/2, wrong 1/2
    assert decided(outcomes, [missed_read_ok, missed_read_wrong]) == ((1 + 3 * 0.5) / 5, (1 + 3 * 0.5) / 5)
    assert decided(outcomes, []) == (0.2, 0.2)  # nothing read: OCR adds nothing
    assert missed_read_wrong.own_containment() == 0.6 and not missed_read_wrong.ocr_own()
    assert missed_read_ok.review_only() is False and _outcome(own, [(1, 36)], ocr=[]).review_only() is True
    unrelated = [_outcome(None, [(3, 12)]), _outcome(None, [], ocr=[]), _outcome(None, [], ocr=[(4, 0.95)])]
    assert decided(unrelated, unrelated[1:]) == (0.0, round((1 + 2 * 0.5) / 3, 4))


def test_the_missed_sample_reuses_the_ocr_sample_and_stays_within_its_size():
    from debunk.bench.images import missed_sample, sample

    outcomes = {(i, "crop"): _outcome(frozenset({i}), [(i, 5)] if i % 4 == 0 else []) for i in range(40)}
    own = sample([(i, "crop") for i in range(40)], 10, "crop")
    chosen = missed_sample(own, outcomes, 40, "crop", 10)
    assert len(chosen) == 10 and all(not outcomes[k].hash_auto() for k in chosen)
    assert {k for k in own if not outcomes[k].hash_auto()} <= set(chosen)
    assert chosen == missed_sample(own, outcomes, 40, "crop", 10)  # seeded
    assert len(missed_sample(own, outcomes, 40, "crop", None)) == 30  # all of them
