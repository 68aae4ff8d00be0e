"""The search backend registry: `SEARCH_BACKEND` (a dotted path) names the class; one instance per process."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from search.backends.base import (
    BackendHit,
    BackendResult,
    RumorDocument,
    SearchBackend,
    SearchQuery,
    SearchUnavailable,
)

__all__ = [
    "BackendHit",
    "BackendResult",
    "RumorDocument",
    "SearchBackend",
    "SearchQuery",
    "SearchUnavailable",
    "get_backend",
    "reset_backend",
]

_instances: dict[str, SearchBackend] = {}


def get_backend(path: str | None = None) -> SearchBackend:
    """The configured backend (or the one at `path`), created on first use."""
    path = path or settings.SEARCH_BACKEND
    backend = _instances.get(path)
    if backend is None:
        backend = _instances[path] = import_string(path)()
    return backend


def reset_backend() -> None:
    """Forget the instances (after a settings change, in tests)."""
    _instances.clear()
