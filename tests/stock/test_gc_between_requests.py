"""Serving processes collect cyclic garbage after each answer (debunk.wsgi installs it unless GC_BETWEEN_REQUESTS=0)."""

import gc
import os
import subprocess
import sys
import weakref

from django.conf import settings

from debunk.core import gc_between_requests


def thresholds_after_importing_wsgi(**env: str) -> str:
    code = "import gc, debunk.wsgi; print(gc.get_threshold()[0])"
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "debunk.settings", "MATCH_WARM_UP_AT_START": "0", **env}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_wsgi_installs_it_and_the_setting_turns_it_off():
    assert thresholds_after_importing_wsgi() == str(gc_between_requests.YOUNG_THRESHOLD)
    # CPython's own default (700 up to 3.12, 2000 in 3.13), read from a bare interpreter of the same version
    default = subprocess.run(
        [sys.executable, "-c", "import gc; print(gc.get_threshold()[0])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert thresholds_after_importing_wsgi(GC_BETWEEN_REQUESTS="0") == default


def test_each_finished_request_collects_and_unreachable_cycles_go(monkeypatch):
    monkeypatch.setattr(gc_between_requests, "_served", 0)
    collected: list[int] = []
    real = gc.collect
    monkeypatch.setattr(gc, "collect", lambda generation=2: collected.append(generation) or real(generation))
    for _ in range(gc_between_requests.FULL_EVERY):
        gc_between_requests.collect()
    assert collected.count(2) == 1 and collected.count(1) == 19 and collected.count(0) == 980

    class Node:
        pass

    gc.disable()  # no automatic collection in between
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle, unreachable once the names are gone
        probe = weakref.ref(a)
        del a, b
        assert probe() is not None  # reference counting alone does not free a cycle
        gc_between_requests.collect()
        assert probe() is None
    finally:
        gc.enable()
