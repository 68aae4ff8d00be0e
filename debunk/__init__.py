"""Debunk: the Django project; each part of the product is a package beneath (see docs/architecture.md).

The Celery application is created when Django loads the app (`DebunkConfig.ready`) or when a worker is started with
`celery -A debunk`, not on `import debunk`: the pure cores (`debunk.matching`'s engine, `debunk.tracing`'s
algorithms) import neither Django nor Celery.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "celery_app":
        from debunk.celery import app

        return app
    raise AttributeError(name)
