"""bench_index_storage's measurements on a tiny stock against a real redis-server: the figures are there and
positive, and datasketch over Redis finds exactly the candidates datasketch in memory and the project's own LSH
table find for the same signatures."""

import json
import os
from io import StringIO

import numpy as np
import pytest
import redis
from django.core.management import call_command

from debunk.bench import index_storage as sb
from debunk.matching.index import MatchIndex


def require_redis_server() -> None:
    """Skip (with the reason) where redis-server is not installed; in CI it must be."""
    if not os.access(sb.REDIS_SERVER, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"{sb.REDIS_SERVER} must be installed in CI (apt-get install redis-server)")
        pytest.skip(f"{sb.REDIS_SERVER} is not installed (apt-get install redis-server)")


@pytest.fixture(scope="module")
def redis_url():
    require_redis_server()
    with sb.throwaway_redis() as url:
        yield url


@pytest.fixture(scope="module")
def work():
    return sb.make_workload(300, 20, changes=5)


def test_redis_finds_what_memory_and_the_project_find(redis_url, work):
    entries = work.stock.entries
    stored = sb.measure_redis_lsh(redis_url, entries, work.minhashes, work.changes)
    memory = sb.measure_memory_lsh(entries, work.minhashes)

    assert len(stored.results) == len(memory.results) == len(work.minhashes) == 20
    assert stored.results == memory.results
    assert sum(map(len, stored.results)) >= 10  # edited copies and repost chains of stored texts find them
    signatures = np.stack([m.hashvalues for m in work.minhashes]).astype(np.uint32)
    owners, fp_ids = MatchIndex(entries).candidates_by_owner(signatures, np.arange(len(signatures)))
    project = [set() for _ in signatures]
    for owner, fp_id in zip(owners.tolist(), fp_ids.tolist(), strict=True):
        project[owner].add(fp_id)
    assert project == memory.results

    assert stored.insert_seconds > 0 and stored.bytes_per_fp > 0
    assert stored.insert_one_ms > 0 and stored.edit_one_ms > 0
    assert (stored.latencies > 0).all() and (memory.latencies > 0).all()
    assert stored.visible
    assert stored.deleted_keys > 300
    with redis.Redis.from_url(redis_url) as client:
        assert client.dbsize() == 0  # the benchmark's keys are gone


def test_project_figures_and_deltas(work, tmp_path):
    figures = sb.measure_project(work.stock, work.queries, work.changes, tmp_path / "snapshot", max_delta=40)
    assert len(figures.results) == len(figures.latencies) == 20
    assert (figures.latencies > 0).all()
    assert figures.batch_posts_per_s > 0 and figures.open_seconds > 0 and figures.bytes_per_fp > 0
    assert figures.delta_apply_ms > 0 and figures.delta_apply_full_ms > 0
    assert figures.pending_changes == 19
    assert figures.visible  # each edited text matches its new fingerprint; the old one is gone


def test_command_json(redis_url, settings):
    settings.MATCH_INDEX_POLL_SECONDS = 1.0
    out = StringIO()
    call_command(
        "bench_index_storage",
        "--fingerprints",
        "300",
        "--queries",
        "20",
        "--redis-url",
        redis_url,
        "--json",
        stdout=out,
    )
    figures = json.loads(out.getvalue())
    assert figures["fingerprints"] == 300 and figures["queries"] == 20
    for key in (
        "redis_insert_seconds",
        "redis_query_p50_ms",
        "redis_query_p99_ms",
        "redis_bytes_per_fp",
        "memory_lsh_query_p50_ms",
        "project_score_p50_ms",
        "project_score_p99_ms",
        "project_batch_posts_per_s",
        "snapshot_open_seconds",
        "delta_apply_ms",
        "redis_vs_project_p50",
    ):
        assert figures[key] > 0, key
    assert figures["poll_seconds"] == 1.0
    assert figures["redis_same_candidates_as_memory"] and figures["redis_changes_visible"]
    assert figures["project_changes_visible"]


def test_throwaway_redis_stops():
    require_redis_server()
    with sb.throwaway_redis() as url, redis.Redis.from_url(url) as client:
        assert client.ping()
    with pytest.raises(redis.ConnectionError), redis.Redis.from_url(url) as client:
        client.ping()
