"""Inline SVG drawings of a trace, written by hand: the cascade's growth and its propagation tree.

The tree stays readable (and small) at any size: each post shows at most MAX_CHILDREN children (the largest
subtrees), the rest fold into one "+N" node; below MAX_DEPTH a subtree folds into "+N"; once MAX_NODES are
drawn, everything left folds the same way. An origin whose source is missing is drawn under a dashed "?".
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from django.utils.translation import gettext as _

from debunk.tracing.forest import Forest
from debunk.tracing.origins import EARLIEST_KNOWN, Origin

MAX_DEPTH, MAX_CHILDREN, MAX_NODES, MAX_ORIGINS = 6, 6, 150, 5
ROW, COLUMN, MARGIN = 18, 150, 12
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


@dataclass
class Node:
    label: str
    title: str = ""
    key: str = ""
    platform: str = ""
    folded: int = 0  # posts folded into this node ("+N")
    missing: bool = False
    children: list["Node"] = field(default_factory=list)
    x: float = 0
    y: float = 0


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def fold_tree(forest: Forest, origins: list[Origin], *, fmt: Callable[[float], str] = _utc) -> list[Node]:
    """The drawable, folded forest: at most MAX_ORIGINS origins, MAX_DEPTH levels, MAX_NODES nodes."""
    budget = [MAX_NODES]

    def post(key: str) -> Node:
        r = forest.records[key]
        budget[0] -= 1
        title = f"{r.platform} {r.post_id or key} · {r.author[:10]} · {fmt(r.time)} · {forest.size[key]}"
        return Node(label=(r.post_id or key)[:14], title=title, key=key, platform=r.platform)

    def expand(node: Node, keys: list[str], depth: int) -> None:
        ranked = sorted(keys, key=lambda k: (-forest.size[k], forest.records[k].time, k))
        if depth >= MAX_DEPTH:
            shown: list[str] = []
        else:
            room = max(0, min(MAX_CHILDREN, budget[0]))
            shown = ranked[:room]
        rest = sum(forest.size[k] for k in ranked[len(shown) :])
        for key in shown:
            child = post(key)
            node.children.append(child)
            expand(child, forest.children.get(key, []), depth + 1)
        if rest:
            budget[0] -= 1
            node.children.append(Node(label=f"+{rest}", title=_("%(n)d more posts") % {"n": rest}, folded=rest))

    drawn: list[Node] = []
    for origin in origins[:MAX_ORIGINS]:
        if origin.kind == EARLIEST_KNOWN:
            top = Node(label="?", title=_("missing source (%(ref)s)") % {"ref": origin.missing_parent}, missing=True)
            budget[0] -= 1
            expand(top, list(origin.members), 1)
        else:
            top = post(origin.key)
            expand(top, forest.children.get(origin.key, []), 1)
        drawn.append(top)
    hidden = sum(o.size for o in origins[MAX_ORIGINS:])
    if hidden:
        drawn.append(Node(label=f"+{hidden}", title=_("%(n)d posts of other origins") % {"n": hidden}, folded=hidden))
    return drawn


def _layout(roots: list[Node]) -> tuple[int, int]:
    row = [0]
    deepest = [0]

    def place(node: Node, depth: int) -> None:
        node.x = MARGIN + depth * COLUMN
        deepest[0] = max(deepest[0], depth)
        if not node.children:
            node.y = MARGIN + row[0] * ROW
            row[0] += 1
            return
        for child in node.children:
            place(child, depth + 1)
        node.y = (node.children[0].y + node.children[-1].y) / 2

    for root in roots:
        place(root, 0)
    return MARGIN * 2 + (deepest[0] + 1) * COLUMN, MARGIN * 2 + max(1, row[0]) * ROW


def tree_svg(forest: Forest, origins: list[Origin], *, fmt: Callable[[float], str] = _utc) -> str:
    """The propagation tree as an inline SVG element (folded; depth ≤ MAX_DEPTH, so recursion is shallow)."""
    roots = fold_tree(forest, origins, fmt=fmt)
    width, height = _layout(roots)
    width += 120  # the platforms' legend
    colours: dict[str, str] = {}
    lines: list[str] = []
    shapes: list[str] = []

    def draw(node: Node) -> None:
        for child in node.children:
            lines.append(f'<line x1="{node.x:.0f}" y1="{node.y:.0f}" x2="{child.x:.0f}" y2="{child.y:.0f}"/>')
            draw(child)
        tip = f"<title>{escape(node.title)}</title>" if node.title else ""
        if node.folded:
            shapes.append(
                f'<g class="folded"><rect x="{node.x - 4:.0f}" y="{node.y - 7:.0f}" width="44" height="14" rx="3"/>'
                f'<text x="{node.x:.0f}" y="{node.y + 4:.0f}">{escape(node.label)}</text>{tip}</g>'
            )
            return
        if node.missing:
            colour, dash = "#fff", ' stroke-dasharray="3,2"'
        else:
            colour, dash = colours.setdefault(node.platform, PALETTE[len(colours) % len(PALETTE)]), ""
        shapes.append(
            f'<g><circle cx="{node.x:.0f}" cy="{node.y:.0f}" r="5" fill="{colour}"{dash}/>'
            f'<text x="{node.x + 8:.0f}" y="{node.y + 4:.0f}">{escape(node.label)}</text>{tip}</g>'
        )

    for platform in sorted({r.platform for r in forest.records.values()}):
        colours.setdefault(platform, PALETTE[len(colours) % len(PALETTE)])
    for root in roots:
        draw(root)
    legend = "".join(
        f'<g><circle cx="{width - 110}" cy="{MARGIN + i * ROW}" r="5" fill="{colour}"/>'
        f'<text x="{width - 100}" y="{MARGIN + i * ROW + 4}">{escape(platform)}</text></g>'
        for i, (platform, colour) in enumerate(colours.items())
    )
    label = quoteattr(_("Propagation tree"))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trace-tree" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label={label} font-size="11" font-family="sans-serif">'
        f'<g stroke="#999" stroke-width="1">{"".join(lines)}</g>'
        f'<g stroke="#333" stroke-width="0.5">{"".join(shapes)}{legend}</g>'
        f"<style>.folded rect{{fill:#eee}} text{{stroke:none;fill:#222}}</style></svg>"
    )


def growth_svg(
    growth: list[tuple[float, int]], *, width: int = 640, height: int = 200, fmt: Callable[[float], str] = _utc
) -> str:
    """Cumulative posts per time bucket, as a step line with its first and last times and the total."""
    label = quoteattr(_("Cascade growth over time"))
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trace-growth" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label={label} font-size="11" font-family="sans-serif">'
    )
    if not growth:
        return head + f'<text x="10" y="20">{escape(_("No posts."))}</text></svg>'
    left, right, top, bottom = 48, width - 10, 10, height - 28
    total = growth[-1][1]
    span = max(1, len(growth) - 1)
    points = []
    for i, (_start, count) in enumerate(growth):
        x = left + (right - left) * i / span
        y = bottom - (bottom - top) * count / max(1, total)
        points.append(f"{x:.1f},{y:.1f}")
    return (
        head
        + f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>'
        + f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#999"/>'
        + f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{" ".join(points)}"/>'
        + f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{total}</text>'
        + f'<text x="{left - 4}" y="{bottom}" text-anchor="end">0</text>'
        + f'<text x="{left}" y="{height - 8}">{escape(fmt(growth[0][0]))}</text>'
        + f'<text x="{right}" y="{height - 8}" text-anchor="end">{escape(fmt(growth[-1][0]))}</text>'
        + "</svg>"
    )
