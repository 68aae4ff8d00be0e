"""The index a serving process matches against: a shared snapshot plus the changes made since.

- Every change to what should match appends an `IndexChange` row in the same transaction; the largest
  id is the version.
- Each process checks the version at most every MATCH_INDEX_POLL_SECONDS and applies the changed rumors
  as deltas (their stored fingerprints are reloaded): a request always answers from the current snapshot
  plus the deltas, so a publish or retract is visible within a poll interval.
- Snapshots are never built on the request path. When the deltas pass MATCH_INDEX_MAX_DELTA (or a "reload
  everything" change arrives), the process starts a background build in a thread: one per machine (a
  non-blocking file lock; a process that finds it taken carries on with its deltas), written to a
  `.building` directory then renamed into MATCH_INDEX_DIR. Every process swaps to the newest complete
  snapshot on its next poll (an atomic replacement of one reference: a request holds the index it started
  with), then re-applies the few changes made since that snapshot's version.
- Snapshots are memory-mapped, so all workers on the machine share one copy of the arrays. With
  MATCH_INDEX_DIR empty the snapshot stays in process memory (the background build hands it over there).
- Only a process's very first load can wait for a build (nothing to answer from yet): `warm_up()`, called
  at process start (debunk.wsgi, Celery's worker init), does it before the first request.

A "reload everything" change cannot be applied as a delta: until the background build finishes, requests
keep answering from the previous snapshot plus deltas.
"""

import fcntl
import gc
import hashlib
import logging
import shutil
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import Max

from debunk.matching import compiled
from debunk.matching.index import FORMAT, Entry, MatchIndex

logger = logging.getLogger("debunk.matching")

_lock = threading.Lock()  # one refresh at a time in this process; requests never wait for it
_index: MatchIndex | None = None
_checked_at = 0.0
_builder: threading.Thread | None = None
_built: MatchIndex | None = None  # a background build's result when MATCH_INDEX_DIR is empty
_reload_at = 0  # a "reload everything" change was seen at this version: a snapshot at least as new is needed


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


def _database_dir() -> Path | None:
    """This database's snapshot directory (None: snapshots stay in memory)."""
    root = settings.MATCH_INDEX_DIR
    if not root:
        return None
    db = connection.settings_dict
    identity = hashlib.sha256(f"{db['ENGINE']}|{db['HOST']}|{db['PORT']}|{db['NAME']}".encode()).hexdigest()[:12]
    return Path(root) / identity


def _snapshot_dir(version: int) -> Path | None:
    """Where the snapshot of this database at this version lives; the name includes the version's
    timestamp, so a database that was recreated never reuses another's snapshot."""
    from debunk.matching.models import IndexChange

    root = _database_dir()
    if root is None:
        return None
    stamp = IndexChange.objects.filter(pk=version).values_list("created_at", flat=True).first()
    return root / f"v{version}-{int(stamp.timestamp() * 1e6) if stamp else 0}-f{FORMAT}"


def _name_version(path: Path) -> int | None:
    """The version in a snapshot directory's name (v{version}-{timestamp}-f{format}), None for anything else."""
    head = path.name[1:].split("-", 1)[0]
    if not path.name.startswith("v") or not head.isdigit() or path.name.endswith(".building"):
        return None
    return int(head)


def newest_snapshot(max_version: int) -> tuple[int, Path] | None:
    """The newest complete snapshot of this database at a version ≤ max_version, if any was built."""
    root = _database_dir()
    if root is None or not root.is_dir():
        return None
    versions = sorted(
        {v for p in root.glob(f"v*-f{FORMAT}") if (v := _name_version(p)) is not None and v <= max_version},
        reverse=True,
    )
    for version in versions:
        directory = _snapshot_dir(version)
        if directory is not None and (directory / "complete").exists():
            return version, directory
    return None


def build_snapshot(*, wait: bool = False) -> Path | None:
    """Build the snapshot of the latest version into MATCH_INDEX_DIR (once per machine: a file lock).

    Returns its directory; None when another process holds the lock and `wait` is false (it is building one).
    """
    version = latest_version()
    directory = _snapshot_dir(version)
    if directory is None:
        raise ValueError("MATCH_INDEX_DIR is empty: snapshots are kept in memory")
    if (directory / "complete").exists():
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / ".lock", "w") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return None
        if not (directory / "complete").exists():
            started = time.perf_counter()
            building = directory.with_name(f"{directory.name}.building")
            shutil.rmtree(building, ignore_errors=True)
            MatchIndex(_entries(), version=version).save(building)
            (building / "complete").touch()
            building.rename(directory)
            _prune(directory)
            logger.info("match index snapshot v%s built in %.1f s", version, time.perf_counter() - started)
    return directory


def _prune(keep: Path) -> None:
    """Remove older snapshots (processes that still map one keep their pages until they swap); the two newest
    versions stay."""
    snapshots = sorted(
        (p for p in keep.parent.glob("v*") if p.is_dir() and _name_version(p) is not None),
        key=lambda p: (_name_version(p), p.name),
    )
    for old in snapshots[:-2]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def open_snapshot(version: int) -> MatchIndex:
    """The index at `version` for a process that has none: the newest snapshot on disk plus the changes since
    (when they are few), else a snapshot built now (waiting for another process's build if one is under way)."""
    directory = _database_dir()
    if directory is None:
        return MatchIndex(_entries(), version=version)
    found = newest_snapshot(version)
    if found is not None:
        base_version, path = found
        changes = _changes(base_version, version)
        if None not in changes and len(changes) <= settings.MATCH_INDEX_MAX_DELTA:
            try:
                return _with_deltas(MatchIndex.load(path, base_version), changes, version)
            except FileNotFoundError:  # pruned meanwhile by another process's build
                pass
    path = build_snapshot(wait=True)
    return MatchIndex.load(path, _name_version(path))


def _changes(after: int, upto: int) -> list[int | None]:
    from debunk.matching.models import IndexChange

    return list(IndexChange.objects.filter(id__gt=after, id__lte=upto).values_list("rumor_id", flat=True))


def _with_deltas(index: MatchIndex, changes: list[int | None], version: int) -> MatchIndex:
    """A copy of `index` at `version` with the changed rumors reloaded (a "reload everything" change is skipped:
    it waits for a snapshot)."""
    if version == index.version:
        return index
    updated = index.clone(version=version)
    rumor_ids = sorted({c for c in changes if c is not None})
    for rumor_id in rumor_ids:
        updated.remove_rumor(rumor_id)
    for entry in _entries(rumor_ids):
        updated.add(entry)
    return updated


def refreshed(index: MatchIndex | None) -> MatchIndex:
    """The index brought up to the latest version: swapped to a newer snapshot if one was built, plus deltas.

    Never builds a snapshot itself (except the first load of a process, see open_snapshot): past
    MATCH_INDEX_MAX_DELTA it starts a background build and answers from the deltas meanwhile."""
    global _built, _reload_at
    version = latest_version()
    if index is None:
        return open_snapshot(version)
    if version == index.version and index.snapshot_version == version:
        return index
    if _built is not None and _built.version > index.snapshot_version:  # MATCH_INDEX_DIR empty
        base, _built = _built, None
        index = _with_deltas(base, _changes(base.version, version), version)
        return index
    found = newest_snapshot(version) if index.snapshot_version < version else None
    if found is not None and found[0] > index.snapshot_version:
        base_version, path = found
        changes = _changes(base_version, version)
        try:
            index = _with_deltas(MatchIndex.load(path, base_version), changes, version)
        except FileNotFoundError:  # pruned meanwhile: a newer one exists, taken at the next poll
            changes = _changes(index.version, version)
            index = _with_deltas(index, changes, version)
    else:
        changes = _changes(index.version, version)
        index = _with_deltas(index, changes, version)
    if None in changes:
        _reload_at = max(_reload_at, version)
    if index.snapshot_version < _reload_at or index.delta_size > settings.MATCH_INDEX_MAX_DELTA:
        start_background_build()
    return index


def start_background_build() -> bool:
    """Start building a snapshot in a thread of this process, unless one is already running here. Returns
    whether it started (another process may hold the machine's build lock: the thread then just ends)."""
    global _builder
    if _builder is not None and _builder.is_alive():
        return False
    _builder = threading.Thread(target=_build_in_background, name="match-index-build", daemon=True)
    _builder.start()
    return True


def _build_in_background() -> None:
    global _built
    try:
        if _database_dir() is None:
            version = latest_version()
            _built = MatchIndex(_entries(), version=version)
        else:
            build_snapshot(wait=False)
    except Exception:
        logger.exception("match index: background snapshot build failed")
    finally:
        connection.close()  # this thread's own connection


def wait_for_build(timeout: float | None = None) -> bool:
    """Wait for this process's background build, if one runs (tests, benchmarks). Returns whether none runs."""
    builder = _builder
    if builder is not None:
        builder.join(timeout)
        return not builder.is_alive()
    return True


def current_index() -> MatchIndex:
    """This process's index, checked against the shared version at most once per poll interval.

    While another thread of the process refreshes, a request answers from the index it has: only the very first
    load waits."""
    global _index, _checked_at
    index = _index
    if index is not None and time.monotonic() - _checked_at < settings.MATCH_INDEX_POLL_SECONDS:
        return index
    if index is not None and not _lock.acquire(blocking=False):
        return index
    if index is None:
        _lock.acquire()
    try:
        first = _index is None
        _index = refreshed(_index)
        _checked_at = time.monotonic()
        if first:
            compiled.warm_up()  # load the compiled matcher now, not on the first request that matches
            _freeze_once()
        return _index
    finally:
        _lock.release()


def warm_up() -> None:
    """At process start: load the compiled matcher and this process's index, so that the first request is as
    fast as the next. Never fails the start: without a database (not migrated yet, unreachable) the index is
    loaded by the first request instead."""
    compiled.warm_up()
    try:
        current_index()
    except Exception as exc:  # a start must not fail on it; the first request retries
        logger.warning("match index not loaded at start (the first match request will): %s", exc)
    finally:
        connection.close()  # not inherited by forked workers, not held idle by a process that may not use it


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
    global _index, _checked_at, _built, _reload_at
    wait_for_build()
    with _lock:
        _index, _checked_at, _built, _reload_at = None, 0.0, None, 0
