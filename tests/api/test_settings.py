"""Safe by default: debunk.settings read in a fresh process with a clean environment applies the production rules,
and refuses to start without the secrets production needs (tests/settings.py turns DEBUG on for the suite only)."""

import io
import os
import subprocess
import sys

import pytest
from django.conf import settings

PRINT = "import debunk.settings as s; print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.PSEUDONYM_SECRET == s.SECRET_KEY)"


def read_settings(**env: str) -> subprocess.CompletedProcess:
    """Import debunk.settings in a new interpreter whose environment holds only PATH and `env`."""
    return subprocess.run(
        [sys.executable, "-c", PRINT],
        cwd=settings.BASE_DIR,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_debug_is_off_by_default():
    done = read_settings(SECRET_KEY="k" * 50, PSEUDONYM_SECRET="p" * 50)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "False"]


def test_without_secret_key_startup_fails_with_a_clear_message():
    done = read_settings()
    assert done.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is required when DEBUG is off." in done.stderr


@pytest.mark.parametrize("pseudonym_env", [{}, {"PSEUDONYM_SECRET": ""}])
def test_without_pseudonym_secret_startup_fails_rather_than_following_secret_key(pseudonym_env):
    done = read_settings(SECRET_KEY="k" * 50, **pseudonym_env)
    assert done.returncode != 0
    assert "ImproperlyConfigured: PSEUDONYM_SECRET is required when DEBUG is off" in done.stderr


def test_a_pseudonym_secret_equal_to_the_secret_key_is_refused():
    done = read_settings(SECRET_KEY="k" * 50, PSEUDONYM_SECRET="k" * 50)
    assert done.returncode != 0
    assert "PSEUDONYM_SECRET must differ from SECRET_KEY" in done.stderr


def test_debug_on_starts_with_development_keys_but_the_pseudonym_secret_does_not_follow_secret_key():
    done = read_settings(DEBUG="1", SECRET_KEY="my-own-development-key")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "False"]


def test_the_suite_runs_in_development_mode():
    """tests/settings.py forces DEBUG on while settings are read (and for the subprocesses tests start)."""
    assert os.environ["DEBUG"] == "1" and settings.SECURE_SSL_REDIRECT is False


@pytest.mark.django_db
def test_create_demo_users_refuses_when_debug_is_off_unless_forced(settings):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.management.base import CommandError

    users = get_user_model().objects
    settings.DEBUG = False
    with pytest.raises(CommandError, match=r"DEBUG is off.*Nothing was created.*--force"):
        call_command("create_demo_users", stdout=io.StringIO())
    assert not users.filter(username="admin").exists()
    call_command("create_demo_users", "--force", stdout=io.StringIO())
    assert users.get(username="admin").is_superuser
    settings.DEBUG = True
    out = io.StringIO()
    call_command("create_demo_users", stdout=out)
    assert "debunk-checker" in out.getvalue() and users.get(username="checker").check_password("debunk-checker")
