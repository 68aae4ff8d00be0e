"""Celery tasks of search: they take ids and re-read the rumor, so running one twice is harmless."""

import logging

from celery import shared_task

from search.services import rumor_search_refresh

logger = logging.getLogger(__name__)

RETRY_SECONDS = 60


@shared_task(bind=True, max_retries=5)
def search_index_rumor(self, rumor_id: int) -> bool | None:
    """Bring one rumor's search entry up to date; an unreachable search engine is logged (and retried by a
    worker), never raised into the code that saved the rumor."""
    try:
        return rumor_search_refresh(rumor_id=rumor_id)
    except Exception as exc:
        logger.warning("search update of rumor %s failed: %r", rumor_id, exc, exc_info=True)
        if not self.request.is_eager and self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=RETRY_SECONDS) from exc
        return None
