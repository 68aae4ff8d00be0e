"""The SVGs stay small and readable at any size: small subtrees and deep levels fold into "+N" nodes."""

import random
import re

from debunk.tracing.drawing import MAX_NODES, growth_svg, tree_svg
from debunk.tracing.forest import PostRecord
from debunk.tracing.origins import trace_cascade


def cascade(n: int, seed: int = 7) -> list[PostRecord]:
    rng = random.Random(seed)
    records = [PostRecord(key="0", platform="a", time=0.0, author="u0", post_id="p0")]
    for i in range(1, n):
        parent = str(rng.randrange(max(1, i // 3)) if rng.random() < 0.8 else rng.randrange(i))
        records.append(PostRecord(key=str(i), platform="a", time=float(i * 7), parent=parent, author=f"u{i % 97}"))
    records.append(PostRecord(key="orphan", platform="a", time=5.0, parent="deleted", author="x"))
    return records


def test_a_1500_post_tree_is_folded_and_stays_small():
    result = trace_cascade(cascade(1500))
    svg = tree_svg(result.forest, result.origins)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    circles, folded = svg.count("<circle"), re.findall(r">\+(\d+)</text>", svg)
    assert circles <= MAX_NODES + 10
    assert folded, "small subtrees are folded into +N nodes"
    assert circles + sum(int(n) for n in folded) >= 1500  # every post is drawn or counted in a +N
    assert len(svg) < 60_000
    assert 'stroke-dasharray="3,2"' in svg  # the orphan's missing source


def test_growth_chart():
    result = trace_cascade(cascade(300))
    svg = growth_svg(result.growth)
    assert svg.count("<polyline") == 1 and ">301<" in svg
    assert "<svg" in growth_svg([])
