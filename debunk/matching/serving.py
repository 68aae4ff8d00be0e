"""The index a serving process matches against, reloaded from stored fingerprints when its version moves.

Each process polls `IndexState.version` at most every MATCH_INDEX_POLL_SECONDS; publishing, editing or
retracting a rumor bumps it in the same transaction, so every process (any number of gunicorn workers,
on any number of machines sharing the database) serves the change within about a second.
"""

import threading
import time

from django.conf import settings

from debunk.matching.index import Entry, MatchIndex

_lock = threading.Lock()
_index: MatchIndex | None = None
_checked_at = 0.0


def load_index(version: int) -> MatchIndex:
    """Build an index from the stored fingerprints of live rumors (no rehashing)."""
    from debunk.models import Fingerprint, Rumor
    from debunk.services.fingerprints import decode

    rows = Fingerprint.objects.filter(rumor__in=Rumor.objects.live().values("pk")).values_list(
        "pk", "rumor_id", "shingles", "signature", "exact_hash"
    )
    entries = (
        Entry(pk, rumor_id, decode(shingles), decode(signature), exact)
        for pk, rumor_id, shingles, signature, exact in rows.iterator(chunk_size=2000)
    )
    return MatchIndex(entries, version=version)


def current_version() -> int:
    from debunk.models import IndexState

    return IndexState.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def current_index() -> MatchIndex:
    """This process's index, checked against the shared version at most once per poll interval."""
    global _index, _checked_at
    now = time.monotonic()
    index = _index
    if index is not None and now - _checked_at < settings.MATCH_INDEX_POLL_SECONDS:
        return index
    with _lock:
        version = current_version()
        if _index is None or _index.version != version:
            _index = load_index(version)
        _checked_at = time.monotonic()
        return _index


def reset() -> None:
    """Forget the loaded index (tests, and after bulk imports in the same process)."""
    global _index, _checked_at
    with _lock:
        _index, _checked_at = None, 0.0
