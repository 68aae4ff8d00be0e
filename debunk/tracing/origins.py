"""What a trace reports from a forest: its origins (first posters overall and per platform, each a source or
only the earliest known post), its key amplifiers and its growth over time.

An origin is a root of the forest that reports no parent (kind "source"), or the orphans of one absent
parent taken together (kind "earliest_known": the source is missing). Such a group is represented by the
orphan whose subtree is the largest (then the earliest): the branch that carried the cascade is the best
lead to the missing post. Origins are ranked by time; when the first ones are on different platforms
within the clock skew of each other, their order is unknowable from the clocks and the larger cascade
is ranked first (the one listed `within_skew_of` the others).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from debunk.tracing.forest import MISSING, Forest, PostRecord, build_forest, descendants_by_author

SOURCE, EARLIEST_KNOWN = "source", "earliest_known"
TOP_AMPLIFIERS = 10


@dataclass(frozen=True)
class Origin:
    key: str  # the representative post
    kind: str  # source | earliest_known
    platform: str
    time: float  # the earliest time among its members
    size: int  # posts in its trees
    members: tuple[str, ...]  # the roots it gathers (one for a source)
    missing_parent: str | None = None
    within_skew_of: tuple[str, ...] = ()


@dataclass(frozen=True)
class Amplifier:
    author: str
    reposts: int
    reach: int  # distinct posts below their reposts
    share: float  # of all posts that are not origins


@dataclass
class TraceResult:
    forest: Forest
    origins: list[Origin]  # overall, first is the first poster
    by_platform: dict[str, Origin]
    amplifiers: list[Amplifier]
    growth: list[tuple[float, int]]  # (bucket start, cumulative posts)
    bucket_seconds: int
    skew_seconds: float
    notes: dict[str, int] = field(default_factory=dict)


def trace_cascade(records: Iterable[PostRecord], *, skew_seconds: float = 300) -> TraceResult:
    """The whole analysis of one rumor's posts: the service and the evaluation both call this."""
    forest = build_forest(records, skew_seconds=skew_seconds)
    overall = rank_origins(find_origins(forest, forest.roots), skew_seconds=skew_seconds)
    by_platform: dict[str, Origin] = {}
    for platform in sorted({r.platform for r in forest.records.values()}):
        local_roots = [
            k
            for k, r in forest.records.items()
            if r.platform == platform
            and (forest.parent[k] is None or forest.records[forest.parent[k]].platform != platform)
        ]
        by_platform[platform] = rank_origins(find_origins(forest, local_roots), skew_seconds=0)[0]
    growth, bucket = growth_curve([r.time for r in forest.records.values()])
    hows: dict[str, int] = defaultdict(int)
    for how in forest.how.values():
        hows[how] += 1
    return TraceResult(
        forest=forest,
        origins=overall,
        by_platform=by_platform,
        amplifiers=amplifiers(forest),
        growth=growth,
        bucket_seconds=bucket,
        skew_seconds=skew_seconds,
        notes=dict(hows),
    )


def find_origins(forest: Forest, roots: Iterable[str]) -> list[Origin]:
    """Roots that report no parent are sources; orphans of one absent parent form one earliest-known origin."""
    origins: list[Origin] = []
    orphans: dict[str, list[str]] = defaultdict(list)
    for key in roots:
        if forest.how[key] == MISSING:
            orphans[forest.missing[key]].append(key)
            continue
        r = forest.records[key]
        origins.append(Origin(key, SOURCE, r.platform, r.time, forest.size[key], (key,)))
    for absent, members in orphans.items():
        lead = min(members, key=lambda k: (-forest.size[k], forest.records[k].time, k))
        origins.append(
            Origin(
                key=lead,
                kind=EARLIEST_KNOWN,
                platform=forest.records[lead].platform,
                time=min(forest.records[k].time for k in members),
                size=sum(forest.size[k] for k in members),
                members=tuple(sorted(members, key=lambda k: (forest.records[k].time, k))),
                missing_parent=absent,
            )
        )
    return origins


def rank_origins(origins: list[Origin], *, skew_seconds: float) -> list[Origin]:
    """Earliest first; among the first ones on other platforms within the skew, the largest cascade first."""
    ranked = sorted(origins, key=lambda o: (o.time, -o.size, o.key))
    if len(ranked) < 2:
        return ranked
    first = ranked[0]
    close = [first] + [o for o in ranked[1:] if o.platform != first.platform and o.time <= first.time + skew_seconds]
    if len(close) == 1:
        return ranked
    lead = min(close, key=lambda o: (-o.size, o.time, o.key))
    others = tuple(o.key for o in close if o is not lead)
    lead = Origin(**{**lead.__dict__, "within_skew_of": others})
    return [lead] + [o for o in ranked if o.key != lead.key]


def amplifiers(forest: Forest, top: int = TOP_AMPLIFIERS) -> list[Amplifier]:
    """Accounts whose reposts carried most of the reach (the posts below them)."""
    reach = descendants_by_author(forest)
    reposts: dict[str, int] = defaultdict(int)
    for key, record in forest.records.items():
        if forest.parent[key] is not None and record.author:
            reposts[record.author] += 1
    spread = max(1, len(forest.records) - len(forest.roots))
    rows = [Amplifier(a, reposts[a], len(posts), round(len(posts) / spread, 4)) for a, posts in reach.items()]
    rows.sort(key=lambda a: (-a.reach, -a.reposts, a.author))
    return [a for a in rows if a.reach > 0][:top]


BUCKETS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)


def growth_curve(times: list[float], max_buckets: int = 60) -> tuple[list[tuple[float, int]], int]:
    """Cumulative posts per time bucket, with the smallest bucket that keeps the curve under max_buckets."""
    if not times:
        return [], BUCKETS[0]
    start, end = min(times), max(times)
    bucket = next((b for b in BUCKETS if (end - start) / b < max_buckets), BUCKETS[-1])
    first = start - start % bucket
    counts: dict[int, int] = defaultdict(int)
    for t in times:
        counts[int((t - first) // bucket)] += 1
    total, curve = 0, []
    for i in range(int((end - first) // bucket) + 1):
        total += counts.get(i, 0)
        curve.append((first + i * bucket, total))
    return curve, bucket
