"""The layout's rules hold: pure cores import no Django, serving code never imports the benchmarks, and every
Celery task the beat schedule names is registered under its pinned name."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PURE_CORES = [
    "debunk.matching.normalize",
    "debunk.matching.opencc_dicts",
    "debunk.matching.fingerprint",
    "debunk.matching.index",
    "debunk.matching.compiled",
    "debunk.matching.matcher",
    "debunk.matching.claims",
    "debunk.matching.calibration",
    "debunk.tracing.forest",
    "debunk.tracing.origins",
    "debunk.images.decode",
    "debunk.images.hashing",
    "debunk.images.index",
    "debunk.images.pipeline",
    "debunk.images.ocr",
    "debunk.images.decision",
    "debunk.reports.signing",
    "debunk.reports.package",
    "debunk.warning.detector",
    "debunk.semantic.embedder",
    "debunk.semantic.index",
    "search.fusion",
]
FORBIDDEN = ("django", "rest_framework", "redis", "celery", "kombu", "debunk.bench")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "MATCH_WARM_UP_AT_START": "0"}  # importing debunk.wsgi would load the match index
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def test_pure_cores_import_no_django_drf_redis_or_celery():
    loaded = _loaded_after("\n".join(f"import {module}" for module in PURE_CORES))
    assert [m for m in loaded if m.split(".")[0] in FORBIDDEN] == []


def test_serving_code_never_imports_the_benchmarks():
    loaded = _loaded_after(
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'debunk.settings')\n"
        "import django; django.setup()\n"
        "from django.urls import get_resolver; get_resolver().url_patterns\n"
        "import debunk.wsgi, debunk.admin, debunk.stock.tasks, debunk.api.tasks, debunk.corrections.tasks\n"
        "import debunk.sanctions.tasks, debunk.reports.tasks, search.tasks"
    )
    assert "debunk.urls" in loaded and "debunk.matching.api" in loaded  # the probe did load the serving code
    # debunk.bench is an installed app (for its commands): Django imports its empty package, nothing more
    assert [m for m in loaded if m.startswith("debunk.bench.")] == []


def test_no_runtime_module_imports_debunk_bench():
    offenders = []
    for path in [*ROOT.joinpath("debunk").rglob("*.py"), *ROOT.joinpath("search").rglob("*.py")]:
        if "bench" in path.relative_to(ROOT).parts[:2]:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith("debunk.bench")]
    assert offenders == []


def test_beat_schedule_names_registered_tasks():
    from debunk.celery import app

    app.loader.import_default_modules()
    registered = set(app.tasks)
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled - registered == set()
    # queued messages carry these names: they must not change when a module moves
    pinned = {
        "debunk.tasks.rumor_published_task",
        "debunk.tasks.deliver",
        "search.tasks.search_index_rumor",
        "debunk.tasks.deliver_report_notice",
        "debunk.tasks.send_reporter_message",
    }
    assert pinned <= registered
