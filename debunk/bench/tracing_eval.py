"""Source identification on propagation datasets, in four scenarios, with the algorithm the service runs.

A cascade becomes a list of PostRecords with its true tree. In the Weibo file (CED) a null `parent_id`
means "the source or a direct repost of it": the repost link to the source is restored (that is how a
platform reports a repost). In the Twitter15/16 trees a node is (user, tweet, delay), the source
the source user's node of the source tweet with the smallest delay; duplicated edges keep
the first parent, links into the source and links that would loop are dropped, and a node left without a
parent is a retweet of the source (retweets carry its id). Twitter records have no text.

(a) as given; (b) the source post dropped: its reposts report a parent that is absent, and the right answer
is the root of the largest surviving subtree (then the earliest, then the smallest key), flagged
earliest_known; (c) times floored to the hour; (d) the source's direct repost subtrees each moved, with
probability 1/2 (seeded by the cascade id), to a second platform whose clock is off by ±skew (the sign drawn
the same way): a moved branch loses its repost link (no link crosses platforms) and its first post carries
the source's text after its own comment, as a copy across platforms does. (a), (c), (d) are right when the
first poster is the source post.
"""

import json
import random
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from debunk.matching.fingerprint import shingle_hashes
from debunk.matching.normalize import normalize
from debunk.tracing.forest import PostRecord
from debunk.tracing.origins import EARLIEST_KNOWN, trace_cascade

SCENARIOS = ("as_given", "source_dropped", "coarse_times", "two_platforms")
TWITTER_EPOCH = 1420070400.0  # 2015-01-01T00:00:00Z: Twitter delays are minutes from the source


@dataclass
class Cascade:
    cascade_id: str
    source: str
    records: list[PostRecord]
    texts: dict[str, str] = field(default_factory=dict)


@dataclass
class Tally:
    cascades: int = 0
    right: int = 0
    earliest_known: int = 0
    within_skew: int = 0

    def as_dict(self) -> dict[str, float | int]:
        n = max(1, self.cascades)
        return {
            "accuracy": round(self.right / n, 4),
            "right": self.right,
            "flagged_earliest_known": round(self.earliest_known / n, 4),
            "flagged_within_skew": round(self.within_skew / n, 4),
        }


@lru_cache(maxsize=65536)
def shingles_of(text: str) -> frozenset[int]:
    return frozenset(shingle_hashes(normalize(text).text).tolist()) if text else frozenset()


def read_cascades(path: Path) -> Iterator[Cascade]:
    """Both dataset formats, told apart by their fields; malformed lines raise ValueError with the line."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                yield _weibo(item) if "posts" in item else _twitter(item)
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"line {number}: {exc}") from exc


def _weibo(item: dict) -> Cascade:
    source = item["ground_truth"]["source_post_id"]
    records, texts = [], {}
    for p in item["posts"]:
        key = p["post_id"]
        parent = p["parent_id"] if p["parent_id"] is not None else (None if key == source else source)
        texts[key] = p.get("text") or ""
        records.append(
            PostRecord(
                key=key,
                platform="a",
                time=float(p["unix_time"]),
                parent=parent,
                author=p["user_id"],
                shingles=shingles_of(texts[key]),
                post_id=key,
            )
        )
    return Cascade(item["cascade_id"], source, records, texts)


def _twitter(item: dict) -> Cascade:
    truth = item["ground_truth"]
    nodes: dict[str, tuple[str, float]] = {}
    parent: dict[str, str] = {}
    candidates: list[tuple[float, str]] = []

    def node_key(node: list) -> str:
        user, tweet, delay = node
        return f"{user}:{tweet}:{float(delay):g}"

    for edge in item["edges"]:
        for node in edge:
            key = node_key(node)
            nodes.setdefault(key, (node[0], float(node[2]) * 60))
            if node[0] == truth["source_user_id"] and node[1] == truth["source_tweet_id"]:
                candidates.append((float(node[2]), key))
    if not candidates:
        raise ValueError("the source node is not in the edges")
    source = min(candidates)[1]  # the source user's own tweet, at its earliest delay (usually 0)
    for up, down in item["edges"]:
        p, c = node_key(up), node_key(down)
        if c == source or c in parent or p == c:
            continue
        walk: str | None = p
        while walk is not None and walk != c:
            walk = parent.get(walk)
        if walk is None:  # no loop
            parent[c] = p
    records = [
        PostRecord(
            key=key,
            platform="a",
            time=TWITTER_EPOCH + delay,
            parent=None if key == source else parent.get(key, source),
            author=user,
            post_id=key,
        )
        for key, (user, delay) in nodes.items()
    ]
    return Cascade(item["cascade_id"], source, records)


def _subtree_sizes(records: list[PostRecord]) -> tuple[dict[str, list[str]], dict[str, int]]:
    children: dict[str, list[str]] = defaultdict(list)
    for r in records:
        if r.parent is not None:
            children[r.parent].append(r.key)
    size: dict[str, int] = {}

    def measure(key: str) -> int:
        stack, order = [key], []
        while stack:
            node = stack.pop()
            order.append(node)
            stack.extend(children.get(node, []))
        for node in reversed(order):
            size[node] = 1 + sum(size[c] for c in children.get(node, []))
        return size[key]

    for r in records:
        if r.key not in size:
            measure(r.key)
    return children, size


def source_dropped(cascade: Cascade) -> tuple[list[PostRecord], str]:
    """Scenario (b): the records without the source, and the expected earliest-known post."""
    children, size = _subtree_sizes(cascade.records)
    times = {r.key: r.time for r in cascade.records}
    survivors = children.get(cascade.source, [])
    expected = min(survivors, key=lambda k: (-size[k], times[k], k)) if survivors else ""
    return [r for r in cascade.records if r.key != cascade.source], expected


def coarse_times(cascade: Cascade, seconds: int = 3600) -> list[PostRecord]:
    return [replace(r, time=r.time - r.time % seconds) for r in cascade.records]


def two_platforms(cascade: Cascade, skew_seconds: float) -> list[PostRecord]:
    rng = random.Random(zlib.crc32(cascade.cascade_id.encode()))
    children, _ = _subtree_sizes(cascade.records)
    shift = skew_seconds if rng.random() < 0.5 else -skew_seconds
    moved: set[str] = set()
    heads = set()
    for child in sorted(children.get(cascade.source, [])):
        if rng.random() < 0.5:
            heads.add(child)
            stack = [child]
            while stack:
                node = stack.pop()
                moved.add(node)
                stack.extend(children.get(node, []))
    source_text = cascade.texts.get(cascade.source, "")
    out = []
    for r in cascade.records:
        if r.key not in moved:
            out.append(r)
            continue
        changes: dict = {"platform": "b", "time": r.time + shift}
        if r.key in heads:
            own = cascade.texts.get(r.key, "")
            changes["parent"] = None
            changes["shingles"] = shingles_of(f"{own}//{source_text}" if own else source_text)
        out.append(replace(r, **changes))
    return out


def evaluate(cascades: Iterable[Cascade], *, skew_seconds: float = 300) -> dict:
    """Run the four scenarios on every cascade; the figures printed by `eval_tracing`."""
    tallies = {name: Tally() for name in SCENARIOS}
    for cascade in cascades:
        dropped, expected_dropped = source_dropped(cascade)
        runs = {
            "as_given": (cascade.records, cascade.source, None),
            "coarse_times": (coarse_times(cascade), cascade.source, None),
            "two_platforms": (two_platforms(cascade, skew_seconds), cascade.source, None),
        }
        if expected_dropped:
            runs["source_dropped"] = (dropped, expected_dropped, EARLIEST_KNOWN)
        for name, (records, expected, kind) in runs.items():
            first = trace_cascade(records, skew_seconds=skew_seconds).origins[0]
            tally = tallies[name]
            tally.cascades += 1
            tally.right += first.key == expected and (kind is None or first.kind == kind)
            tally.earliest_known += first.kind == EARLIEST_KNOWN
            tally.within_skew += bool(first.within_skew_of)
    cascades_seen = tallies["as_given"].cascades
    result: dict = {"cascades": cascades_seen, "clock_skew_seconds": skew_seconds}
    for name in SCENARIOS:
        figures = tallies[name].as_dict()
        result[f"accuracy_{name}"] = figures.pop("accuracy")
        result[name] = {"cascades": tallies[name].cascades, **figures}
    return result
