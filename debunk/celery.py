"""The Celery application; configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debunk.settings")

app = Celery("debunk")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each part keeps its tasks in its own package; their names are pinned (`debunk.tasks.<name>`).
app.autodiscover_tasks(
    [
        "debunk.core",
        "debunk.stock",
        "debunk.api",
        "debunk.corrections",
        "debunk.sanctions",
        "debunk.images",
        "debunk.semantic",
        "debunk.reports",
        "debunk.warning",
        "search",
    ]
)


@signals.worker_init.connect
def _warm_up_matcher(**_kwargs) -> None:
    """Load (or compile, once per machine) the matcher's kernels in the worker's main process, before its pool
    processes fork from it: tasks that match (corrections intake, the post archive) do not pay for it. The
    index is left to each pool process (a database connection must not cross a fork)."""
    from django.conf import settings

    if settings.MATCH_WARM_UP_AT_START:
        import logging
        import time

        from debunk.matching import compiled

        started = time.perf_counter()
        compiled.warm_up()
        logging.getLogger("debunk.matching").info(
            "matcher kernels loaded in %.1f s, before the pool processes fork", time.perf_counter() - started
        )
