"""A throwaway SQLite database holding only the search tables, for evaluation and benchmarks: the same backend
code as production, without touching the project's database."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.db import connections

from search.models import IndexedRumor, Posting


@contextlib.contextmanager
def bulk_loading(alias: str) -> Iterator[None]:
    """SQLite settings for loading millions of rows into a scratch database (a 2 GB page cache, no fsync); the
    connection is reopened afterwards, so that queries run with Django's defaults."""
    with connections[alias].cursor() as cursor:
        cursor.execute("PRAGMA cache_size = -2000000")
        cursor.execute("PRAGMA synchronous = OFF")
    try:
        yield
    finally:
        connections[alias].close()


@contextlib.contextmanager
def scratch_database(alias: str = "search_scratch", *, in_memory: bool = False) -> Iterator[str]:
    """A connection alias to a new SQLite database (a temporary file, or memory) with the search tables."""
    with tempfile.TemporaryDirectory(prefix="debunk-search-") as tmp:
        name = ":memory:" if in_memory else str(Path(tmp) / "search.sqlite3")
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": name}
        connections.settings[alias] = connections.configure_settings({"default": config})["default"]
        try:
            with connections[alias].schema_editor() as editor:
                editor.create_model(IndexedRumor)
                editor.create_model(Posting)
            yield alias
        finally:
            connections[alias].close()
            del connections[alias]
            connections.settings.pop(alias, None)
