"""The Celery application; configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debunk.settings")

app = Celery("debunk")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each part keeps its tasks in its own package; their names are pinned (`debunk.tasks.<name>`).
app.autodiscover_tasks(
    ["debunk.core", "debunk.stock", "debunk.api", "debunk.corrections", "debunk.sanctions", "search"]
)
