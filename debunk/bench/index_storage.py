"""Where the match index lives, measured: datasketch's `MinHashLSH` in Redis (one copy every worker on every
machine reads directly) and in process memory, against the project's design (a snapshot memory-mapped once per
machine plus in-memory deltas driven by the `IndexChange` log, see `serving`). `bench_index_storage` runs it;
docs/matching.md says what each figure means.

All three use the same stock of stored fingerprints (the project's signatures, which datasketch accepts as
`LeanMinHash(seed=1, scheme="affine32")`), the same 32 × 4 bands and the same queries, in one process and one run.
datasketch's figures are a bare candidate lookup; the project's are `score_text`: candidates of the post, its
repost segments and windows, then exact Jaccard / containment, which is more work.
"""

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from debunk.bench import matching as bm
from debunk.matching.fingerprint import NUM_PERM, SEED, fingerprint
from debunk.matching.index import BANDS, ROWS, Entry, MatchIndex
from debunk.matching.normalize import normalize

REDIS_SERVER = "/usr/bin/redis-server"
SCHEME = "affine32"  # datasketch 2.x's name for the permutations the project's signatures use
KEY_PREFIX = "isb"  # + 8 hex digits: 11 bytes, as long as the random basename datasketch picks by default


def _quiet(message: str) -> None:
    pass


# ---- the workload ---------------------------------------------------------------------------------------------
@dataclass
class Change:
    """A checker edited a stored rumor's text: its old fingerprint goes, a new one (a new fp id) comes."""

    old_fp_id: int
    text: str  # the edited text
    entry: Entry  # its new fingerprint, same rumor id


@dataclass
class Workload:
    stock: bm.Prepared  # stored texts; entry i has fp id i and rumor id i
    queries: list[str]  # posts, made as bench_match makes them
    minhashes: list[Any]  # LeanMinHash of each post's whole normalised text, for those that have a signature
    changes: list[Change]


def make_workload(fingerprints: int, queries: int, changes: int = 20, corpus: bm.Corpus | None = None) -> Workload:
    """A synthetic Chinese stock and posts (bench_match's mix: half edited copies of stored texts, a quarter
    unrelated posts, a quarter repost chains carrying a stored text) and a few edited rumors."""
    corpus = corpus or bm.Corpus()
    stock = bm.prepare(corpus.posts(fingerprints))
    posts = bm.make_queries(corpus, stock, queries)
    signatures = (fingerprint(normalize(post).text).signature for post in posts)
    minhashes = [lean(s) for s in signatures if s is not None]
    return Workload(stock, posts, minhashes, edited_rumors(corpus, stock, changes))


def edited_rumors(corpus: bm.Corpus, stock: bm.Prepared, count: int) -> list[Change]:
    """New fingerprints for `count` stored rumors, as if each one's text were edited (about 10% of it changed)."""
    next_id = max((e.fp_id for e in stock.entries), default=-1) + 1
    hashed = [e for e in stock.entries if e.signature is not None]
    out: list[Change] = []
    for old in corpus.pyrng.sample(hashed, min(count, len(hashed))):
        text = corpus.edit(stock.texts[old.fp_id], 0.1)
        fp = fingerprint(normalize(text).text)
        if fp.signature is not None:
            out.append(
                Change(old.fp_id, text, Entry(next_id + len(out), old.rumor_id, fp.shingles, fp.signature, fp.exact))
            )
    return out


def lean(signature: np.ndarray) -> Any:
    """A stored signature as datasketch's LeanMinHash, no rehashing (datasketch 2.0 wants the scheme named)."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=SEED, hashvalues=signature, scheme=SCHEME)


def percentiles_ms(latencies: np.ndarray) -> tuple[float, float]:
    """p50 and p99 of per-call seconds, in milliseconds."""
    return float(np.percentile(latencies, 50)) * 1e3, float(np.percentile(latencies, 99)) * 1e3


def _timed_lookups(lsh: Any, minhashes: list[Any]) -> tuple[list[set[int]], np.ndarray]:
    """`lsh.query` per minhash, after a warm-up on the first 50."""
    bm.timed(lsh.query, minhashes[:50])
    results, latencies = bm.timed(lsh.query, minhashes)
    return [set(r) for r in results], latencies


# ---- datasketch -----------------------------------------------------------------------------------------------
def redis_params(url: str) -> dict[str, Any]:
    """redis.Redis keyword arguments for a redis://, rediss:// or unix:// URL (datasketch takes keywords only)."""
    from redis.connection import SSLConnection, UnixDomainSocketConnection, parse_url

    params = parse_url(url)
    kind = params.pop("connection_class", None)
    if kind is SSLConnection:
        params["ssl"] = True
    elif kind is UnixDomainSocketConnection:
        params["unix_socket_path"] = params.pop("path")
    return params


def redis_lsh(url: str, basename: bytes) -> Any:
    """A MinHashLSH over Redis with the project's bands; every object with the same basename shares the data."""
    from datasketch import MinHashLSH

    config = {"type": "redis", "basename": basename, "redis": redis_params(url)}
    return MinHashLSH(num_perm=NUM_PERM, params=(BANDS, ROWS), storage_config=config)


def memory_lsh(entries: list[Entry]) -> Any:
    """datasketch's in-memory MinHashLSH with the project's bands, holding the stock's signatures."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(num_perm=NUM_PERM, params=(BANDS, ROWS))
    with lsh.insertion_session() as session:
        for e in entries:
            if e.signature is not None:
                session.insert(e.fp_id, lean(e.signature), check_duplication=False)
    return lsh


@dataclass
class LookupFigures:
    results: list[set[int]]  # candidate fp ids per lookup
    latencies: np.ndarray  # seconds per lookup


@dataclass
class RedisFigures(LookupFigures):
    insert_seconds: float  # the whole stock, one insertion session
    bytes_per_fp: float  # INFO memory used_memory after the insert minus before, per fingerprint
    insert_one_ms: float  # median: one new key, outside a session; the next query of any process sees it
    edit_one_ms: float  # median: remove a rumor's key and insert its edited text's
    visible: bool  # another MinHashLSH object (its own connections) found every insert and edit at once
    deleted_keys: int  # Redis keys removed afterwards


def measure_memory_lsh(entries: list[Entry], minhashes: list[Any]) -> LookupFigures:
    """datasketch in process memory: candidate lookups of the same queries."""
    return LookupFigures(*_timed_lookups(memory_lsh(entries), minhashes))


def measure_redis_lsh(
    url: str,
    entries: list[Entry],
    minhashes: list[Any],
    changes: list[Change],
    say: Callable[[str], None] = _quiet,
) -> RedisFigures:
    """datasketch over Redis: the stock inserted in one insertion session, the queries looked up, then single
    publishes and edits, each checked from another reader at once. Everything lives under a fresh key prefix
    that is deleted afterwards, errors included."""
    import redis

    basename = f"{KEY_PREFIX}{secrets.token_hex(4)}".encode()  # keys are prefixed by it: longer costs memory
    client = redis.Redis(**redis_params(url))
    deleted = 0
    try:
        lsh = redis_lsh(url, basename)
        hashed = [e for e in entries if e.signature is not None]
        signatures = [lean(e.signature) for e in hashed]
        before = int(client.info("memory")["used_memory"])
        started = time.perf_counter()
        with lsh.insertion_session() as session:
            for e, m in zip(hashed, signatures, strict=True):
                session.insert(e.fp_id, m, check_duplication=False)
        insert_seconds = time.perf_counter() - started
        used = int(client.info("memory")["used_memory"]) - before
        say(f"datasketch-redis: {len(hashed)} inserted in {insert_seconds:.1f} s, {used / len(hashed):.0f} B/fp")

        results, latencies = _timed_lookups(lsh, minhashes)
        say(f"datasketch-redis: {len(minhashes)} lookups, p50 {percentiles_ms(latencies)[0]:.3f} ms")

        reader = redis_lsh(url, basename)  # what another worker holds
        stored = {e.fp_id: e for e in hashed}
        publish_id = max(c.entry.fp_id for c in changes) + 1 if changes else 0
        insert_ms, edit_ms, visible = [], [], True
        for k, change in enumerate(changes):
            m = lean(change.entry.signature)
            started = time.perf_counter()
            lsh.insert(publish_id + k, m, check_duplication=False)  # a newly published rumor
            insert_ms.append((time.perf_counter() - started) * 1e3)
            visible &= publish_id + k in reader.query(m)
            started = time.perf_counter()
            lsh.remove(change.old_fp_id)  # an edited rumor
            lsh.insert(change.entry.fp_id, m, check_duplication=False)
            edit_ms.append((time.perf_counter() - started) * 1e3)
            found = reader.query(m)
            visible &= change.entry.fp_id in found and change.old_fp_id not in found
            visible &= change.old_fp_id not in reader.query(lean(stored[change.old_fp_id].signature))
    finally:
        deleted = delete_keys(client, basename)
        say(f"datasketch-redis: deleted {deleted} keys under {basename.decode()}*")
        client.close()
    return RedisFigures(
        results,
        latencies,
        insert_seconds=insert_seconds,
        bytes_per_fp=used / max(len(hashed), 1),
        insert_one_ms=_median(insert_ms),
        edit_one_ms=_median(edit_ms),
        visible=visible,
        deleted_keys=deleted,
    )


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else 0.0


def delete_keys(client: Any, prefix: bytes, batch: int = 10_000) -> int:
    """Delete every key starting with `prefix` (SCAN + UNLINK; nothing else in that Redis is touched)."""
    deleted, chunk = 0, []
    for key in client.scan_iter(match=prefix + b"*", count=batch):
        chunk.append(key)
        if len(chunk) >= batch:
            deleted += client.unlink(*chunk)
            chunk = []
    if chunk:
        deleted += client.unlink(*chunk)
    return deleted


# ---- the project's index --------------------------------------------------------------------------------------
@dataclass
class ProjectFigures:
    results: list[list[Any]]  # score_text per query (Scored rows)
    latencies: np.ndarray  # seconds per score_text call
    batch_posts_per_s: float  # score_batch, 100 posts a call
    build_seconds: float  # arrays from the stored fingerprints, saved (one worker per machine does it)
    open_seconds: float  # MatchIndex.load: memory-map the saved arrays
    bytes_per_fp: float  # snapshot arrays (the LSH table and the shingle sets exact scoring needs)
    delta_apply_ms: float  # median: one edited rumor applied as serving.refreshed does (no DB read)
    delta_apply_full_ms: float  # the same with about MATCH_INDEX_MAX_DELTA changes already pending
    pending_changes: int  # how many rumors were pending for delta_apply_full_ms
    visible: bool  # after each delta its edited text matches the new fingerprint, and the old one is gone


def measure_project(
    stock: bm.Prepared,
    queries: list[str],
    changes: list[Change],
    directory: Path,
    max_delta: int,
    say: Callable[[str], None] = _quiet,
) -> ProjectFigures:
    """The project's index as a serving process sees it: built from the stored fingerprints and saved once,
    memory-mapped, scored against; `changes` applied as deltas."""
    from debunk.matching import compiled
    from debunk.matching.matcher import score_text

    started = time.perf_counter()
    MatchIndex(stock.entries).save(directory)
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    index = MatchIndex.load(directory, version=1)
    open_seconds = time.perf_counter() - started
    say(f"project: snapshot built and saved in {build_seconds:.1f} s, opened in {open_seconds * 1e3:.2f} ms")

    compiled.warm_up()
    core = bm.project_core(index)
    bm.timed(core, queries[:50])  # warm-up (and the mapped pages faulted in)
    results, latencies = bm.timed(core, queries)
    batch_seconds = bm.batch_seconds(index, queries, size=100)
    say(f"project: {len(queries)} posts scored, p50 {percentiles_ms(latencies)[0]:.3f} ms")

    delta_ms, visible = [], True
    for change in changes:
        updated, ms = _apply(index, change.entry)
        delta_ms.append(ms)
        visible &= updated.lookup(change.old_fp_id) is None
        visible &= any(s.fp_id == change.entry.fp_id for s in score_text(updated, change.text, min_score=0.7))

    # The most a process carries before it reopens a snapshot: each pending edit is one removed and one added
    # fingerprint of delta_size, and refreshed() reopens past MATCH_INDEX_MAX_DELTA.
    changed = {c.entry.rumor_id for c in changes}
    others = [e for e in stock.entries if e.rumor_id not in changed][: max(0, max_delta // 2 - 1)]
    pending = index.clone(version=2)
    next_id = max(c.entry.fp_id for c in changes) + 1 if changes else len(stock.entries)
    for k, e in enumerate(others):
        pending.remove_rumor(e.rumor_id)
        pending.add(Entry(next_id + k, e.rumor_id, e.shingles, e.signature, e.exact))
    full_ms = [_apply(pending, change.entry)[1] for change in changes]
    return ProjectFigures(
        results,
        latencies,
        batch_posts_per_s=len(queries) / batch_seconds,
        build_seconds=build_seconds,
        open_seconds=open_seconds,
        bytes_per_fp=index.nbytes() / max(len(index), 1),
        delta_apply_ms=_median(delta_ms),
        delta_apply_full_ms=_median(full_ms),
        pending_changes=len(others),
        visible=visible,
    )


def _apply(base: MatchIndex, entry: Entry) -> tuple[MatchIndex, float]:
    """One changed rumor applied as serving.refreshed applies it (its fingerprints already read from the
    database), plus the dead-row mask the first query after it builds; milliseconds taken."""
    started = time.perf_counter()
    updated = base.clone(version=base.version + 1)
    updated.remove_rumor(entry.rumor_id)
    updated.add(entry)
    updated.dead_rows()
    return updated, (time.perf_counter() - started) * 1e3


# ---- one run ----------------------------------------------------------------------------------------------------
NOTE = (
    "datasketch figures are a bare candidate lookup (lsh.query of the post's whole text); project_score_* is "
    "score_text: candidates of the post, its repost segments and windows, then exact Jaccard/containment - more work"
)


def run(
    fingerprints: int,
    queries: int,
    redis_url: str,
    *,
    poll_seconds: float,
    max_delta: int,
    changes: int = 20,
    say: Callable[[str], None] = _quiet,
) -> dict[str, Any]:
    """Every figure of bench_index_storage, on one workload in one process."""
    started = time.perf_counter()
    work = make_workload(fingerprints, queries, changes)
    entries = work.stock.entries
    say(f"workload: {len(entries)} fingerprints, {len(work.queries)} posts ({time.perf_counter() - started:.1f} s)")

    redis = measure_redis_lsh(redis_url, entries, work.minhashes, work.changes, say=say)
    memory = measure_memory_lsh(entries, work.minhashes)
    say(f"datasketch-memory: p50 {percentiles_ms(memory.latencies)[0]:.3f} ms")
    with tempfile.TemporaryDirectory(prefix="debunk-snapshot-") as directory:
        project = measure_project(work.stock, work.queries, work.changes, Path(directory), max_delta, say=say)

    redis_p50, redis_p99 = percentiles_ms(redis.latencies)
    memory_p50, memory_p99 = percentiles_ms(memory.latencies)
    project_p50, project_p99 = percentiles_ms(project.latencies)
    return {
        "fingerprints": len(entries),
        "queries": len(work.queries),
        "lookups": len(work.minhashes),
        "bands_rows": f"{BANDS}x{ROWS}",
        "redis_insert_seconds": round(redis.insert_seconds, 2),
        "redis_inserts_per_s": round(sum(e.signature is not None for e in entries) / redis.insert_seconds, 1),
        "redis_query_p50_ms": round(redis_p50, 3),
        "redis_query_p99_ms": round(redis_p99, 3),
        "redis_queries_per_s": round(len(redis.latencies) / redis.latencies.sum(), 1),
        "redis_bytes_per_fp": round(redis.bytes_per_fp, 1),
        "redis_insert_one_ms": round(redis.insert_one_ms, 3),
        "redis_edit_one_ms": round(redis.edit_one_ms, 3),
        "redis_changes_visible": redis.visible,
        "redis_same_candidates_as_memory": redis.results == memory.results,
        "memory_lsh_query_p50_ms": round(memory_p50, 3),
        "memory_lsh_query_p99_ms": round(memory_p99, 3),
        "memory_lsh_queries_per_s": round(len(memory.latencies) / memory.latencies.sum(), 1),
        "project_score_p50_ms": round(project_p50, 3),
        "project_score_p99_ms": round(project_p99, 3),
        "project_single_posts_per_s": round(len(project.latencies) / project.latencies.sum(), 1),
        "project_batch_posts_per_s": round(project.batch_posts_per_s, 1),
        "project_bytes_per_fp": round(project.bytes_per_fp, 1),
        "snapshot_build_seconds": round(project.build_seconds, 3),
        "snapshot_open_seconds": round(project.open_seconds, 6),
        "delta_apply_ms": round(project.delta_apply_ms, 3),
        "delta_apply_full_ms": round(project.delta_apply_full_ms, 3),
        "delta_pending_changes": project.pending_changes,
        "project_changes_visible": project.visible,
        "poll_seconds": poll_seconds,
        "redis_freshness_ms": round(redis.insert_one_ms, 3),
        "project_freshness_max_s": round(poll_seconds + project.delta_apply_ms / 1e3, 3),
        "redis_vs_project_p50": round(redis_p50 / project_p50, 2),
        "redis_vs_memory_lsh_p50": round(redis_p50 / memory_p50, 2),
        "note": NOTE,
    }


# ---- a Redis server for the run -------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_redis(binary: str = REDIS_SERVER, timeout: float = 10.0) -> Iterator[str]:
    """A redis-server on 127.0.0.1 and a free port, persisting nothing, in a temporary directory; yields its URL
    and stops it (and removes the directory) on the way out, errors included."""
    import redis

    if not os.access(binary, os.X_OK):
        raise FileNotFoundError(f"{binary} is not an executable redis-server")
    workdir = tempfile.mkdtemp(prefix="debunk-redis-")
    proc = None
    try:
        for _ in range(5):  # the free port may be taken between the probe and the server's bind
            port = _free_port()
            args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
            proc = subprocess.Popen(
                [*args, "--dir", workdir, "--daemonize", "no", "--logfile", ""],
                cwd=workdir,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            url = f"redis://127.0.0.1:{port}/0"
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline:
                with suppress(redis.ConnectionError), redis.Redis.from_url(url) as client:
                    if client.ping():
                        break
                time.sleep(0.05)
            else:
                if proc.poll() is None:
                    raise TimeoutError(f"redis-server did not answer on {url} within {timeout} s")
                continue  # it exited: try another port
            yield url
            return
        raise RuntimeError("redis-server would not start")
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
