"""Celery tasks of the platforms' API.

Task names are pinned (`debunk.tasks.<name>`, where they lived first) so that queued tasks and the beat
schedule survive moves."""

import logging

from celery import shared_task
from django.conf import settings

from debunk.api.keys import request_logs_purge

logger = logging.getLogger(__name__)


@shared_task(name="debunk.tasks.purge_api_logs")
def purge_api_logs() -> int:
    """Delete API request logs older than API_LOG_RETENTION_DAYS (run by Celery beat; 0 keeps them)."""
    if settings.API_LOG_RETENTION_DAYS <= 0:
        return 0
    deleted = request_logs_purge(older_than_days=settings.API_LOG_RETENTION_DAYS)
    logger.info("api request logs purged: %d", deleted)
    return deleted
