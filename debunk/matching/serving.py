"""The index a serving process matches against: a shared snapshot plus the changes made since.

- Every change to what should match appends an `IndexChange` row in the same transaction; the largest
  id is the version.
- Each process checks the version at most every MATCH_INDEX_POLL_SECONDS. A few changes are applied as
  deltas (the changed rumors' stored fingerprints are reloaded); many, or a "reload everything" change,
  reopen a snapshot.
- A snapshot is built once per machine (a file lock keeps other workers waiting for it) into
  MATCH_INDEX_DIR and memory-mapped, so all workers on the machine share one copy of the arrays. With
  MATCH_INDEX_DIR empty the snapshot stays in process memory.
"""

import fcntl
import gc
import hashlib
import shutil
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import Max

from debunk.matching import compiled
from debunk.matching.index import FORMAT, Entry, MatchIndex

_lock = threading.Lock()
_index: MatchIndex | None = None
_checked_at = 0.0


def _entries(rumor_ids: list[int] | None = None):
    """Stored fingerprints of live rumors (all, or of the given rumors) as index entries, no rehashing."""
    from debunk.matching.fingerprints import decode
    from debunk.matching.models import Fingerprint
    from debunk.stock.models import Rumor

    live = Rumor.objects.live()
    if rumor_ids is not None:
        live = live.filter(pk__in=rumor_ids)
    rows = Fingerprint.objects.filter(rumor__in=live.values("pk")).values_list(
        "pk", "rumor_id", "shingles", "signature", "exact_hash"
    )
    for pk, rumor_id, shingles, signature, exact in rows.iterator(chunk_size=2000):
        yield Entry(pk, rumor_id, decode(shingles), decode(signature), exact)


def latest_version() -> int:
    from debunk.matching.models import IndexChange

    return IndexChange.objects.aggregate(v=Max("id"))["v"] or 0


def _snapshot_dir(version: int) -> Path | None:
    """Where the snapshot of this database at this version lives; the name includes the version's
    timestamp, so a database that was recreated never reuses another's snapshot."""
    from debunk.matching.models import IndexChange

    root = settings.MATCH_INDEX_DIR
    if not root:
        return None
    db = connection.settings_dict
    identity = hashlib.sha256(f"{db['ENGINE']}|{db['HOST']}|{db['PORT']}|{db['NAME']}".encode()).hexdigest()[:12]
    stamp = IndexChange.objects.filter(pk=version).values_list("created_at", flat=True).first()
    return Path(root) / identity / f"v{version}-{int(stamp.timestamp() * 1e6) if stamp else 0}-f{FORMAT}"


def open_snapshot(version: int) -> MatchIndex:
    """The snapshot at `version`: mapped from disk if some process built it, else built (once) from the DB."""
    directory = _snapshot_dir(version)
    if directory is None:
        return MatchIndex(_entries(), version=version)
    if (directory / "complete").exists():
        return MatchIndex.load(directory, version)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / ".lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if not (directory / "complete").exists():
            building = directory.with_name(f"{directory.name}.building")
            shutil.rmtree(building, ignore_errors=True)
            MatchIndex(_entries(), version=version).save(building)
            (building / "complete").touch()
            building.rename(directory)
            _prune(directory)
    return MatchIndex.load(directory, version)


def _prune(keep: Path) -> None:
    """Remove older snapshots (processes that still map one keep their pages until they reopen); the two newest
    versions stay. Names are v{version}-{timestamp}-f{format}."""

    def version(path: Path) -> int | None:
        head = path.name[1:].split("-", 1)[0]
        return int(head) if head.isdigit() and not path.name.endswith(".building") else None

    snapshots = sorted(
        (p for p in keep.parent.glob("v*") if p.is_dir() and version(p) is not None), key=lambda p: (version(p), p.name)
    )
    for old in snapshots[:-2]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def refreshed(index: MatchIndex | None) -> MatchIndex:
    """The index brought up to the latest version: as deltas when few rumors changed, else a new snapshot."""
    from debunk.matching.models import IndexChange

    version = latest_version()
    if index is None:
        return open_snapshot(version)
    if version == index.version:
        return index
    changes = list(IndexChange.objects.filter(id__gt=index.version, id__lte=version).values_list("rumor_id", flat=True))
    if None in changes or len(changes) + index.delta_size > settings.MATCH_INDEX_MAX_DELTA:
        return open_snapshot(version)
    updated = index.clone(version=version)
    rumor_ids = sorted(set(changes))
    for rumor_id in rumor_ids:
        updated.remove_rumor(rumor_id)
    for entry in _entries(rumor_ids):
        updated.add(entry)
    return updated


def current_index() -> MatchIndex:
    """This process's index, checked against the shared version at most once per poll interval."""
    global _index, _checked_at
    index = _index
    if index is not None and time.monotonic() - _checked_at < settings.MATCH_INDEX_POLL_SECONDS:
        return index
    with _lock:
        first = _index is None
        _index = refreshed(_index)
        _checked_at = time.monotonic()
        if first:
            compiled.warm_up()  # load the compiled matcher now, not on the first request that matches
            _freeze_once()
        return _index


_frozen = False


def _freeze_once() -> None:
    """Move what the process holds after its first index load (Django, the index, the tables of normalisation) out
    of the cyclic garbage collector's sight, once per process. A match request allocates thousands of short-lived
    containers; without this, the full collections they trigger traverse those ~200k long-lived objects again and
    again (measured in one process: about a quarter of a 100-post batch request's CPU)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def reset() -> None:
    """Forget the loaded index (tests; a process that wants a fresh start)."""
    global _index, _checked_at
    with _lock:
        _index, _checked_at = None, 0.0
