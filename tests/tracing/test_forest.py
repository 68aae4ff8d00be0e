"""The pure algorithms: forest building, origins, clock skew, amplifiers, growth."""

from debunk.bench.tracing_eval import shingles_of
from debunk.tracing.forest import INFERRED, MISSING, REPORTED, PostRecord, build_forest
from debunk.tracing.origins import EARLIEST_KNOWN, SOURCE, amplifiers, growth_curve, trace_cascade

RUMOR = "网传某市自来水厂被污染，全市停水三天，请大家赶紧囤水"
T0 = 1_700_000_000.0


def rec(key: str, t: float, parent: str | None = None, *, platform: str = "a", author: str = "", text: str = ""):
    return PostRecord(
        key=key, platform=platform, time=T0 + t, parent=parent, author=author or f"u-{key}", shingles=shingles_of(text)
    )


def test_forest_from_reported_parent_links():
    records = [rec("s", 0, text=RUMOR), rec("r1", 10, "s"), rec("r2", 20, "r1"), rec("r3", 30, "s")]
    forest = build_forest(records)
    assert forest.roots == ["s"]
    assert forest.parent == {"s": None, "r1": "s", "r2": "r1", "r3": "s"}
    assert forest.how["r2"] == REPORTED
    assert forest.size == {"s": 4, "r1": 2, "r2": 1, "r3": 1}
    result = trace_cascade(records)
    assert [(o.key, o.kind) for o in result.origins] == [("s", SOURCE)]
    assert result.by_platform["a"].key == "s"


def test_parents_inferred_from_time_and_text_without_links():
    records = [
        rec("s", 0, text=RUMOR),
        rec("c1", 60, text="太可怕了//" + RUMOR),  # a copy with a comment: derives from s
        rec("c2", 120, text="转给家人看看//太可怕了//" + RUMOR),  # carries c1 whole: the most specific ancestor
        rec("other", 30, text="今天天气很好，适合出门散步，公园里人很多"),  # unrelated text stays an origin
    ]
    forest = build_forest(records)
    assert forest.parent["c1"] == "s" and forest.how["c1"] == INFERRED
    assert forest.parent["c2"] == "c1"
    assert forest.parent["other"] is None
    origins = trace_cascade(records).origins
    assert [o.key for o in origins] == ["s", "other"]  # several independent origins, earliest first


def test_no_inference_from_a_later_post_or_a_mere_emoji():
    records = [rec("early", 0, text="[怒]"), rec("copy", 10, text=RUMOR), rec("later", 20, text=RUMOR + "！")]
    forest = build_forest(records)
    assert forest.parent["copy"] is None  # "[怒]" is too short to be evidence
    assert forest.parent["later"] == "copy"


def test_missing_source_is_flagged_earliest_known_with_the_largest_branch():
    records = [
        rec("a", 10, "gone"),
        rec("b", 20, "gone"),
        rec("b1", 30, "b"),
        rec("b2", 40, "b"),
        rec("c", 50, "elsewhere"),
    ]
    forest = build_forest(records)
    assert forest.how["a"] == MISSING and forest.missing["a"] == "gone"
    origins = trace_cascade(records).origins
    first = origins[0]
    assert first.kind == EARLIEST_KNOWN
    assert first.key == "b"  # the orphan carrying most of the cascade, not merely the earliest one
    assert first.members == ("a", "b") and first.missing_parent == "gone" and first.size == 4
    assert origins[1].key == "c" and origins[1].kind == EARLIEST_KNOWN


def test_clock_skew_between_platforms_is_tolerated():
    # The copy on platform b is really 2 minutes later, but b's clock is 4 minutes behind.
    records = [
        rec("s", 0, text=RUMOR),
        rec("s1", 300, "s"),
        rec("s2", 400, "s"),
        rec("x", 120 - 240, platform="b", text="看到别处在传//" + RUMOR),
        rec("x1", 500, "x", platform="b"),
    ]
    result = trace_cascade(records, skew_seconds=300)
    assert result.forest.parent["x"] == "s"  # within the skew, the longer text is the copy
    assert [o.key for o in result.origins] == ["s"]
    assert result.by_platform["b"].key == "x" and result.by_platform["b"].kind == SOURCE
    # Without tolerance the clocks are believed: the copy comes "first" and s is taken for its copy.
    strict = trace_cascade(records, skew_seconds=0)
    assert strict.forest.parent["x"] is None


def test_textless_origins_within_the_skew_rank_the_larger_cascade_first():
    records = [rec("s", 0), rec("s1", 50, "s"), rec("s2", 60, "s"), rec("x", -100, platform="b")]
    result = trace_cascade(records, skew_seconds=300)
    assert [o.key for o in result.origins] == ["s", "x"]
    assert result.origins[0].within_skew_of == ("x",)
    far = trace_cascade([*records[:3], rec("x", -1000, platform="b")], skew_seconds=300)
    assert far.origins[0].key == "x" and not far.origins[0].within_skew_of


def test_amplifiers_are_the_reposters_whose_subtrees_carry_the_reach():
    records = [rec("s", 0, author="origin"), rec("big", 10, "s", author="star"), rec("small", 20, "s", author="nobody")]
    records += [rec(f"f{i}", 30 + i, "big", author=f"fan{i}") for i in range(5)]
    records += [rec("again", 40, "f0", author="star")]  # the same account again: counted once
    top = amplifiers(build_forest(records))
    assert top[0].author == "star" and top[0].reach == 6 and top[0].reposts == 2
    assert "origin" not in {a.author for a in top}  # the origin is not an amplifier
    assert "nobody" not in {a.author for a in top}  # no reach, no amplifier


def test_reported_cycles_are_cut():
    forest = build_forest([rec("a", 0, "b"), rec("b", 10, "a")])
    assert forest.roots == ["a"] and forest.parent["b"] == "a"


def test_growth_curve_is_cumulative():
    curve, bucket = growth_curve([T0, T0 + 30, T0 + 3000, T0 + 3600])
    assert bucket == 300
    assert curve[0][1] == 2 and curve[-1][1] == 4
    assert [n for _, n in curve] == sorted(n for _, n in curve)
