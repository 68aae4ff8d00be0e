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

`IndexServer` does all this for any index with the same few methods (build from entries, save, memory-mapped
load, clone with deltas, remove a rumor, add an entry): the text index (`TEXT`, below), the claim index
(`debunk.matching.claim_serving.CLAIMS`) and the image hash index (`debunk.images.serving.IMAGES`) are served
alike, from the same `IndexChange` versions, each in its own sub-directory of the snapshot directory.
"""

import fcntl
import gc
import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, Self

from django.conf import settings
from django.db import connection
from django.db.models import Max

from debunk.matching import compiled
from debunk.matching.index import FORMAT, Entry, MatchIndex

logger = logging.getLogger("debunk.matching")


class ServedIndex(Protocol):
    """What IndexServer needs of an index (MatchIndex and images.index.ImageStockIndex have it)."""

    version: int
    snapshot_version: int

    def save(self, directory: Path) -> None: ...

    def clone(self, version: int) -> Self: ...

    def remove_rumor(self, rumor_id: int) -> None: ...

    def add(self, entry: Any) -> None: ...

    @property
    def delta_size(self) -> int: ...


def latest_version() -> int:
    from debunk.matching.models import IndexChange

    return IndexChange.objects.aggregate(v=Max("id"))["v"] or 0


def _changes(after: int, upto: int) -> list[int | None]:
    from debunk.matching.models import IndexChange

    return list(IndexChange.objects.filter(id__gt=after, id__lte=upto).values_list("rumor_id", flat=True))


def _name_version(path: Path) -> int | None:
    """The version in a snapshot directory's name (v{version}-{timestamp}-f{format}), None for anything else."""
    head = path.name[1:].split("-", 1)[0]
    if not path.name.startswith("v") or not head.isdigit() or path.name.endswith(".building"):
        return None
    return int(head)


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


class IndexServer:
    """One kind of index served to this process: a shared snapshot plus the changes made since (module docstring).

    - `entries(rumor_ids)`: the stored entries of live rumors (all with None), no recomputation;
    - `build(entries, version)`, `load(directory, version)`: a new index, a memory-mapped saved one;
    - `subdir`: where its snapshots go under this database's snapshot directory ("" for the text index's, which
      predates the others); `format`: bumped when the saved arrays change;
    - `on_first_load`: run once the process has its first index (load compiled code, freeze the GC)."""

    def __init__(
        self,
        name: str,
        *,
        entries: Callable[[list[int] | None], Iterator[Any]],
        build: Callable[[Iterable[Any], int], ServedIndex],
        load: Callable[[Path, int], ServedIndex],
        subdir: str,
        format: int,
        on_first_load: Callable[[], None] = lambda: None,
    ) -> None:
        self.name = name
        self._entries = entries
        self._build = build
        self._load = load
        self.subdir = subdir
        self.format = format
        self._on_first_load = on_first_load
        self._lock = threading.Lock()  # one refresh at a time in this process; requests never wait for it
        self._index: Any = None
        self._checked_at = 0.0
        self._builder: threading.Thread | None = None
        self._built: Any = None  # a background build's result when MATCH_INDEX_DIR is empty
        self._reload_at = 0  # a "reload everything" change was seen at this version: a snapshot this new is needed

    # ---- snapshot files ------------------------------------------------------------------------
    def database_dir(self) -> Path | None:
        """This database's snapshot directory for this index (None: snapshots stay in memory)."""
        root = settings.MATCH_INDEX_DIR
        if not root:
            return None
        db = connection.settings_dict
        identity = hashlib.sha256(f"{db['ENGINE']}|{db['HOST']}|{db['PORT']}|{db['NAME']}".encode()).hexdigest()[:12]
        return Path(root) / identity / self.subdir if self.subdir else Path(root) / identity

    def snapshot_dir(self, version: int) -> Path | None:
        """Where the snapshot of this database at this version lives; the name includes the version's
        timestamp, so a database that was recreated never reuses another's snapshot."""
        from debunk.matching.models import IndexChange

        root = self.database_dir()
        if root is None:
            return None
        stamp = IndexChange.objects.filter(pk=version).values_list("created_at", flat=True).first()
        return root / f"v{version}-{int(stamp.timestamp() * 1e6) if stamp else 0}-f{self.format}"

    def newest_snapshot(self, max_version: int) -> tuple[int, Path] | None:
        """The newest complete snapshot of this database at a version ≤ max_version, if any was built."""
        root = self.database_dir()
        if root is None or not root.is_dir():
            return None
        versions = sorted(
            {v for p in root.glob(f"v*-f{self.format}") if (v := _name_version(p)) is not None and v <= max_version},
            reverse=True,
        )
        for version in versions:
            directory = self.snapshot_dir(version)
            if directory is not None and (directory / "complete").exists():
                return version, directory
        return None

    def build_snapshot(self, *, wait: bool = False) -> Path | None:
        """Build the snapshot of the latest version into MATCH_INDEX_DIR (once per machine: a file lock).

        Returns its directory; None when another process holds the lock and `wait` is false (it is building one)."""
        version = latest_version()
        directory = self.snapshot_dir(version)
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
                self._build(self._entries(None), version).save(building)
                (building / "complete").touch()
                building.rename(directory)
                _prune(directory)
                logger.info("%s snapshot v%s built in %.1f s", self.name, version, time.perf_counter() - started)
        return directory

    def open_snapshot(self, version: int) -> Any:
        """The index at `version` for a process that has none: the newest snapshot on disk plus the changes since
        (when they are few), else a snapshot built now (waiting for another process's build if one is under way)."""
        if self.database_dir() is None:
            return self._build(self._entries(None), version)
        found = self.newest_snapshot(version)
        if found is not None:
            base_version, path = found
            changes = _changes(base_version, version)
            if None not in changes and len(changes) <= settings.MATCH_INDEX_MAX_DELTA:
                try:
                    return self._with_deltas(self._load(path, base_version), changes, version)
                except FileNotFoundError:  # pruned meanwhile by another process's build
                    pass
        path = self.build_snapshot(wait=True)
        return self._load(path, _name_version(path))

    def _with_deltas(self, index: Any, changes: list[int | None], version: int) -> Any:
        """A copy of `index` at `version` with the changed rumors reloaded (a "reload everything" change is
        skipped: it waits for a snapshot)."""
        if version == index.version:
            return index
        updated = index.clone(version=version)
        rumor_ids = sorted({c for c in changes if c is not None})
        for rumor_id in rumor_ids:
            updated.remove_rumor(rumor_id)
        for entry in self._entries(rumor_ids):
            updated.add(entry)
        return updated

    # ---- serving ---------------------------------------------------------------------------------
    def refreshed(self, index: Any) -> Any:
        """The index brought up to the latest version: swapped to a newer snapshot if one was built, plus deltas.

        Never builds a snapshot itself (except the first load of a process, see open_snapshot): past
        MATCH_INDEX_MAX_DELTA it starts a background build and answers from the deltas meanwhile."""
        version = latest_version()
        if index is None:
            return self.open_snapshot(version)
        if version == index.version and index.snapshot_version == version:
            return index
        if self._built is not None and self._built.version > index.snapshot_version:  # MATCH_INDEX_DIR empty
            base, self._built = self._built, None
            return self._with_deltas(base, _changes(base.version, version), version)
        found = self.newest_snapshot(version) if index.snapshot_version < version else None
        if found is not None and found[0] > index.snapshot_version:
            base_version, path = found
            changes = _changes(base_version, version)
            try:
                index = self._with_deltas(self._load(path, base_version), changes, version)
            except FileNotFoundError:  # pruned meanwhile: a newer one exists, taken at the next poll
                changes = _changes(index.version, version)
                index = self._with_deltas(index, changes, version)
        else:
            changes = _changes(index.version, version)
            index = self._with_deltas(index, changes, version)
        if None in changes:
            self._reload_at = max(self._reload_at, version)
        if index.snapshot_version < self._reload_at or index.delta_size > settings.MATCH_INDEX_MAX_DELTA:
            self.start_background_build()
        return index

    def start_background_build(self) -> bool:
        """Start building a snapshot in a thread of this process, unless one is already running here. Returns
        whether it started (another process may hold the machine's build lock: the thread then just ends)."""
        if self._builder is not None and self._builder.is_alive():
            return False
        self._builder = threading.Thread(target=self._build_in_background, name=f"{self.name}-build", daemon=True)
        self._builder.start()
        return True

    def _build_in_background(self) -> None:
        try:
            if self.database_dir() is None:
                version = latest_version()
                self._built = self._build(self._entries(None), version)
            else:
                self.build_snapshot(wait=False)
        except Exception:
            logger.exception("%s: background snapshot build failed", self.name)
        finally:
            connection.close()  # this thread's own connection

    def wait_for_build(self, timeout: float | None = None) -> bool:
        """Wait for this process's background build, if one runs (tests, benchmarks). Returns whether none runs."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)
            return not builder.is_alive()
        return True

    def current(self) -> Any:
        """This process's index, checked against the shared version at most once per poll interval.

        While another thread of the process refreshes, a request answers from the index it has: only the very
        first load waits."""
        index = self._index
        if index is not None and time.monotonic() - self._checked_at < settings.MATCH_INDEX_POLL_SECONDS:
            return index
        if index is not None and not self._lock.acquire(blocking=False):
            return index
        if index is None:
            self._lock.acquire()
        try:
            first = self._index is None
            self._index = self.refreshed(self._index)
            self._checked_at = time.monotonic()
            if first:
                self._on_first_load()
            return self._index
        finally:
            self._lock.release()

    def warm_up(self) -> None:
        """At process start: load this process's index. Never fails the start: without a database (not migrated
        yet, unreachable) the index is loaded by the first request instead."""
        try:
            self.current()
        except Exception as exc:  # a start must not fail on it; the first request retries
            logger.warning("%s not loaded at start (the first request will): %s", self.name, exc)
        finally:
            connection.close()  # not inherited by forked workers, not held idle by a process that may not use it

    def reset(self) -> None:
        """Forget the loaded index (tests; a process that wants a fresh start)."""
        self.wait_for_build()
        with self._lock:
            self._index, self._checked_at, self._built, self._reload_at = None, 0.0, None, 0


def _entries(rumor_ids: list[int] | None = None) -> Iterator[Entry]:
    """Stored text fingerprints of live rumors (all, or of the given rumors) as index entries, no rehashing."""
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


_frozen = False


def freeze_once() -> None:
    """Move what the process holds after its first index load (Django, the index, the tables of normalisation) out
    of the cyclic garbage collector's sight, once per process. A match request allocates thousands of short-lived
    containers; without this, the full collections they trigger traverse those ~200k long-lived objects again and
    again (measured in one process: about a quarter of a 100-post batch request's CPU)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def _text_first_load() -> None:
    compiled.warm_up()  # load the compiled matcher now, not on the first request that matches
    freeze_once()


TEXT = IndexServer(
    "match index",
    entries=_entries,
    build=lambda entries, version: MatchIndex(entries, version=version),
    load=MatchIndex.load,
    subdir="",
    format=FORMAT,
    on_first_load=_text_first_load,
)


# The text index's functions, as the rest of the code and the tests call them.
def current_index() -> MatchIndex:
    return TEXT.current()


def refreshed(index: MatchIndex | None) -> MatchIndex:
    return TEXT.refreshed(index)


def build_snapshot(*, wait: bool = False) -> Path | None:
    return TEXT.build_snapshot(wait=wait)


def wait_for_build(timeout: float | None = None) -> bool:
    return TEXT.wait_for_build(timeout)


def _database_dir() -> Path | None:
    return TEXT.database_dir()


def warm_up() -> None:
    """At process start: load the compiled matcher and this process's indexes (text, claims, images), so that the
    first request is as fast as the next."""
    compiled.warm_up()
    for server in servers():
        server.warm_up()


def servers() -> list[IndexServer]:
    """Every served index: the text one, the claim index (unless CLAIM_MATCHING is off) and those of other parts
    (images; the semantic extra's vectors when it is on)."""
    from debunk.images.serving import IMAGES
    from debunk.matching.claim_serving import CLAIMS
    from debunk.semantic.conf import enabled

    served = [TEXT, CLAIMS, IMAGES] if settings.CLAIM_MATCHING else [TEXT, IMAGES]
    if enabled():
        from debunk.semantic.serving import SEMANTIC

        served.append(SEMANTIC)
    return served


def reset() -> None:
    from debunk.matching.claim_serving import CLAIMS

    for server in [*servers(), *([] if settings.CLAIM_MATCHING else [CLAIMS])]:
        server.reset()
