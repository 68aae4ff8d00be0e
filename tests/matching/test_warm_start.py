"""No cold start: a serving process loads the compiled matcher and its index when it starts (debunk.wsgi), so its
first match request is as fast as the second, and the kernels' cache works with a read-only source tree."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.db import connection

from debunk.api.keys import api_key_create
from debunk.api.models import Platform
from debunk.core.roles import FACT_CHECKER, REVIEWER, operator_user
from debunk.stock import rumors as svc
from tests.factories import UserFactory, make_rumor

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("warm_start_process.py")
CLAIM = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
# The first request may cost a little more than the second (first use of some code paths), never the seconds a
# kernel compilation (~10-20 s) or even a cache load (~1 s) takes.
MARGIN = 0.5


@pytest.fixture
def served(seeded_transactional_db, tmp_path):
    """A published rumor and an API key in a database another process can open: its URL and the raw key."""
    checker = UserFactory(username="checker", roles=[FACT_CHECKER])
    reviewer = UserFactory(username="reviewer", roles=[REVIEWER])
    rumor = make_rumor(checker, claim=CLAIM)
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    _key, raw = api_key_create(platform=Platform.objects.create(code="p", name="P"), name="warm", by=operator_user())
    if connection.vendor == "sqlite":  # the in-memory test database, copied to a file
        data = Path(tempfile.mkdtemp(prefix="debunk-warm-db-"))
        connection.ensure_connection()
        with sqlite3.connect(data / "db.sqlite3") as target:
            connection.connection.backup(target)
        yield f"sqlite:///{data / 'db.sqlite3'}", raw, data
        shutil.rmtree(data, ignore_errors=True)
    else:
        from tests.celery_worker import database_url

        yield database_url(), raw, None


# As root (who writes through file modes), the tree is made read-only by a read-only bind mount in a mount
# namespace of the child's own; the child checks that it cannot create a directory in it before it starts.
READ_ONLY = (
    'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" || exit 98; '
    'if mkdir "$0/var" 2>/dev/null; then exit 97; fi; exec "$@"'
)


def run(env: dict[str, str], cwd: Path, read_only: Path | None = None) -> dict:
    command = [sys.executable, str(SCRIPT)]
    if read_only is not None and os.geteuid() == 0:
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", READ_ONLY, str(read_only), *command]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode not in (97, 98), "could not make the source tree read-only"
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def base_env(url: str, key: str, index_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "debunk.settings",
        "DATABASE_URL": url,
        "MATCH_INDEX_DIR": str(index_dir),
        "ALLOWED_HOSTS": "testserver",
        "MATCH_TEXT": CLAIM,
        "MATCH_KEY": key,
    }


def test_first_match_after_start_is_as_fast_as_the_second(served, tmp_path):
    url, key, _data = served
    result = run({**base_env(url, key, tmp_path / "index"), "PYTHONPATH": str(ROOT)}, ROOT)
    print(f"start {result['start']:.2f} s, first match {result['first']:.3f} s, second {result['second']:.3f} s")
    assert result["answers"] == [[200, True], [200, True]]
    assert result["first"] < result["second"] + MARGIN


def test_kernels_are_cached_outside_a_read_only_source_tree(served):
    url, key, _data = served
    tmp = Path(tempfile.mkdtemp(prefix="debunk-readonly-"))
    try:
        tmp.chmod(0o755)
        source, home = tmp / "src", tmp / "home"
        ignore = shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", "tests", "docs", ".*_cache")
        shutil.copytree(ROOT, source, ignore=ignore, symlinks=True)
        home.mkdir()
        for path in [source, *source.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o555 if path.is_dir() else 0o444)
        if os.geteuid() != 0:
            with pytest.raises(PermissionError):
                (source / "var").mkdir()
        env = {
            **base_env(url, key, home / "index"),
            "PYTHONPATH": str(source),
            "PYTHONDONTWRITEBYTECODE": "1",
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / ".cache"),
        }
        env.pop("NUMBA_CACHE_DIR", None)  # the default: var/ is not writable, so the user's cache directory

        compiling = run(env, source, read_only=source)
        assert compiling["cache_misses"] > 0
        cached = sorted(p.name for p in (home / ".cache" / "debunk" / "numba").rglob("*.nbi"))
        assert cached, "no kernel cache was written in the user's cache directory"
        assert not list(source.rglob("*.nbi")) and not list(source.rglob("__pycache__"))

        loading = run(env, source, read_only=source)
        print(f"compiling start {compiling['start']:.1f} s; cached start {loading['start']:.1f} s")
        assert loading["cache_misses"] == 0 and loading["cache_hits"] > 0
        assert loading["answers"] == [[200, True], [200, True]]
        assert loading["first"] < loading["second"] + MARGIN
    finally:
        for path in [tmp, *tmp.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.celery_worker
def test_a_celery_worker_loads_the_kernels_before_its_pool_forks(celery_worker):
    log = Path(celery_worker.log.name).read_text()
    loaded, ready = log.find("matcher kernels loaded in"), log.find(" ready.")
    assert loaded != -1, log[-2000:]
    assert ready == -1 or loaded < ready
