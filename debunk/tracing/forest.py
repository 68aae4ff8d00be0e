"""The propagation forest of one rumor: reported repost links first, then inferred ones.

A post that reports a parent present in the set hangs under it ("reported"). A post that reports a parent
absent from the set (deleted, never archived) is an orphan ("missing"): it stays a root, and orphans of the
same absent parent make up one origin whose source is unknown. A post that reports no parent is an
original as far as its platform knows; it hangs under the most plausible earlier post it derives from
("inferred"): one whose n-gram set it carries (containment of the earlier post in it ≥ CONTAINMENT), the
largest such (the most specific ancestor), then the earliest. "Earlier" allows for clocks: on one platform
times are compared as they are; across platforms a difference within the clock skew is no evidence, and the
order is then taken from the texts (the shorter text is the one copied), then from the reported cascades
(the larger one came first), then from the times as given. Links that would close a cycle are never made.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

CONTAINMENT = 0.8  # share of the earlier post's n-grams a derived post must carry
MIN_SHINGLES = 5  # fewer n-grams than this (emoji, "转发微博") is no evidence of derivation

REPORTED, INFERRED, MISSING, ROOT = "reported", "inferred", "missing", "root"


@dataclass(frozen=True)
class PostRecord:
    """One archived post as tracing sees it. `parent`: the key of the post it reports reposting (which may
    be absent from the set), or None when it reports none. `time`: seconds since the epoch, platform clock."""

    key: str
    platform: str
    time: float
    parent: str | None = None
    author: str = ""
    shingles: frozenset[int] = frozenset()
    similarity: float = 0.0
    post_id: str = ""


@dataclass
class Forest:
    records: dict[str, PostRecord]
    parent: dict[str, str | None]
    how: dict[str, str]  # reported | inferred | missing (orphan) | root (reports no parent, none inferred)
    missing: dict[str, str]  # orphan key -> the absent parent it reports
    children: dict[str, list[str]] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)  # posts in the subtree, itself included
    roots: list[str] = field(default_factory=list)


def build_forest(
    records: Iterable[PostRecord], *, skew_seconds: float = 300, containment: float = CONTAINMENT
) -> Forest:
    """Link every post to its parent (reported, else inferred from time and text) and measure the subtrees."""
    by_key = {r.key: r for r in records}
    order = sorted(by_key.values(), key=lambda r: (r.time, r.key))
    parent: dict[str, str | None] = {}
    how: dict[str, str] = {}
    missing: dict[str, str] = {}
    for r in order:
        if r.parent is not None and r.parent != r.key and r.parent in by_key:
            parent[r.key], how[r.key] = r.parent, REPORTED
        elif r.parent is not None and r.parent != r.key:
            parent[r.key], how[r.key] = None, MISSING
            missing[r.key] = r.parent
        else:
            parent[r.key], how[r.key] = None, ROOT
    _break_cycles(order, parent, how)
    reported_size = _sizes(order, parent)
    _infer(order, parent, how, reported_size, skew_seconds, containment)
    forest = Forest(records=by_key, parent=parent, how=how, missing=missing)
    for r in order:
        p = parent[r.key]
        if p is None:
            forest.roots.append(r.key)
        else:
            forest.children.setdefault(p, []).append(r.key)
    forest.size = _sizes(order, parent)
    return forest


def _break_cycles(order: list[PostRecord], parent: dict[str, str | None], how: dict[str, str]) -> None:
    """Reported links that loop (bad data) are cut at the earliest post of the loop."""
    position = {r.key: i for i, r in enumerate(order)}
    state: dict[str, int] = {}
    for r in order:
        path: list[str] = []
        node: str | None = r.key
        while node is not None and node not in state:
            state[node] = 1
            path.append(node)
            node = parent[node]
        if node is not None and state.get(node) == 1:  # came back to this walk: a cycle
            loop = path[path.index(node) :]
            first = min(loop, key=position.__getitem__)
            parent[first], how[first] = None, ROOT
        for k in path:
            state[k] = 2


def _sizes(order: list[PostRecord], parent: dict[str, str | None]) -> dict[str, int]:
    """Subtree sizes; every link points to a post of the set, so summing children up a topological order works."""
    depth: dict[str, int] = {}
    for r in order:
        chain = []
        node: str | None = r.key
        while node is not None and node not in depth:
            chain.append(node)
            node = parent[node]
        base = depth[node] if node is not None else -1
        for k in reversed(chain):
            base += 1
            depth[k] = base
    size = dict.fromkeys(parent, 1)
    for key in sorted(parent, key=lambda k: -depth[k]):
        p = parent[key]
        if p is not None:
            size[p] += size[key]
    return size


def _infer(
    order: list[PostRecord],
    parent: dict[str, str | None],
    how: dict[str, str],
    reported_size: dict[str, int],
    skew: float,
    containment: float,
) -> None:
    # Posts with the same n-gram set are compared once; within a set, the larger cascades, then the earlier
    # posts, come first, so the first acceptable one is the set's best candidate.
    groups: dict[frozenset[int], list[PostRecord]] = {}
    for r in order:
        if len(r.shingles) >= MIN_SHINGLES:
            groups.setdefault(r.shingles, []).append(r)
    for members in groups.values():
        members.sort(key=lambda r: (-reported_size[r.key], r.time, r.key))
    by_start = sorted(((min(r.time for r in m), s, m) for s, m in groups.items()), key=lambda g: g[0])
    for p in order:
        if how[p.key] != ROOT or len(p.shingles) < MIN_SHINGLES:
            continue
        best: tuple | None = None
        for start, shingles, members in by_start:
            if start > p.time + skew:
                break  # no later set holds a post that could have come first
            shared = len(shingles & p.shingles) if shingles is not p.shingles else len(shingles)
            if shared < containment * len(shingles):
                continue
            for q in members:
                if best is not None and (shared, reported_size[q.key], -q.time) <= best[0]:
                    break  # the rest of this set ranks lower
                if q.key != p.key and _earlier(q, p, skew, reported_size) and not _is_ancestor(p.key, q.key, parent):
                    best = ((shared, reported_size[q.key], -q.time), q.key)
                    break
        if best is not None:
            parent[p.key], how[p.key] = best[1], INFERRED


def _earlier(q: PostRecord, p: PostRecord, skew: float, reported_size: dict[str, int]) -> bool:
    """Could q have come before p? Within the clock uncertainty, the texts and the cascades decide."""
    tolerance = skew if q.platform != p.platform else 0
    if q.time + tolerance < p.time:
        return True
    if p.time + tolerance < q.time:
        return False
    if len(q.shingles) != len(p.shingles):
        return len(q.shingles) < len(p.shingles)  # the copy carries the original and adds to it
    if reported_size[q.key] != reported_size[p.key]:
        return reported_size[q.key] > reported_size[p.key]
    return (q.time, q.key) < (p.time, p.key)


def _is_ancestor(candidate: str, key: str | None, parent: dict[str, str | None]) -> bool:
    while key is not None:
        if key == candidate:
            return True
        key = parent[key]
    return False


def descendants_by_author(forest: Forest) -> dict[str, set[str]]:
    """For each author, the posts below any of their reposts (roots are origins, not amplifiers)."""
    reach: dict[str, set[str]] = defaultdict(set)
    for root in forest.roots:
        stack: list[tuple[str, tuple[str, ...]]] = [(root, ())]
        while stack:
            node, above = stack.pop()
            for author in above:
                reach[author].add(node)
            record = forest.records[node]
            mine = above
            if forest.parent[node] is not None and record.author and record.author not in above:
                mine = (*above, record.author)
            for child in forest.children.get(node, []):
                stack.append((child, mine))
    return reach
