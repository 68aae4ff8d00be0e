"""Celery tasks of the semantic extra (names pinned as `debunk.tasks.<name>`). Both are idempotent and do nothing
when the extra is off or missing (a task queued before it was turned off)."""

from celery import shared_task


@shared_task(name="debunk.tasks.embed_rumor")
def embed_rumor(rumor_id: int) -> int:
    """Store the vectors of a published rumor's changed texts and bump the index version."""
    from debunk.semantic.services import rumor_embed

    return rumor_embed(rumor_id)


@shared_task(name="debunk.tasks.semantic_suggest")
def semantic_suggest(post_ids: list[int]) -> int:
    """Suggest up to 5 rumors for each of these posts (suspected matches, stage "semantic")."""
    from debunk.semantic.services import suggest

    return suggest(post_ids)
