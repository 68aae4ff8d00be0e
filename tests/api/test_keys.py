"""API keys: created and revoked through the services and the commands, stored only as prefix and hash."""

import hashlib
import io
import re

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from debunk.api.keys import (
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    api_keys_forget,
    parse_prefix,
    platform_keys_forget,
)
from debunk.api.models import ApiKey, Platform
from debunk.core.models import AuditEvent
from tests.api.conftest import make_key, make_platform

KEY_RE = re.compile(r"^dbk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$")


def test_create_returns_the_raw_key_once_and_stores_only_its_hash(platform, administrator):
    key, raw = api_key_create(platform=platform, name="production", by=administrator)
    assert KEY_RE.match(raw)
    assert raw.startswith(key.display_prefix + "_")
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert key.created_by == administrator
    stored = ApiKey.objects.get()
    assert raw not in {str(value) for value in stored.__dict__.values()}
    event = AuditEvent.objects.get(action="apikey.create")
    assert event.actor == administrator
    assert raw not in str(event.changes) and key.key_hash not in str(event.changes)


def test_keys_are_distinct(platform):
    raws = {make_key(platform)[1] for _ in range(5)}
    assert len(raws) == 5
    assert ApiKey.objects.values("prefix").distinct().count() == 5


def test_authenticate(platform):
    key, raw = make_key(platform)
    assert api_key_authenticate(raw) == key
    assert api_key_authenticate(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert api_key_authenticate("dbk_zzzzzzzz_" + "a" * 43) is None
    assert api_key_authenticate("garbage") is None
    assert api_key_authenticate("") is None


def test_revoke_is_audited_and_idempotent(platform, administrator):
    key, raw = make_key(platform)
    api_key_revoke(key=key, by=administrator, reason="leaked")
    first = key.revoked_at
    api_key_revoke(key=key, by=administrator)
    key.refresh_from_db()
    assert key.revoked_at == first
    assert AuditEvent.objects.filter(action="apikey.revoke").count() == 1
    assert AuditEvent.objects.get(action="apikey.revoke").reason == "leaked"
    assert api_key_authenticate(raw).is_revoked


def test_services_check_permissions(platform, checker):
    with pytest.raises(PermissionDenied):
        api_key_create(platform=platform, name="x", by=checker)
    key, _raw = make_key(platform)
    with pytest.raises(PermissionDenied):
        api_key_revoke(key=key, by=checker)


def test_parse_prefix():
    assert parse_prefix("ab12cd34") == "ab12cd34"
    assert parse_prefix("dbk_ab12cd34") == "ab12cd34"
    assert parse_prefix("dbk_ab12cd34_" + "x" * 43) == "ab12cd34"
    assert parse_prefix("nope") is None


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_api_key_command_prints_the_key_once(platform):
    out, err = run("create_api_key", "--platform", "weibo", "--name", "prod")
    raw = out.strip()
    assert KEY_RE.match(raw)
    assert "will not be shown again" in err
    key = api_key_authenticate(raw)
    assert (key.platform, key.name, key.created_by.username) == (platform, "prod", "system-operator")


def test_create_api_key_command_unknown_platform(db):
    with pytest.raises(CommandError, match=r"No platform has the code .nope.\. .*--create-platform"):
        run("create_api_key", "--platform", "nope")
    assert not Platform.objects.exists() and not ApiKey.objects.exists()


def test_create_api_key_command_can_create_the_platform(db):
    out, err = run("create_api_key", "--platform", "douyin", "--create-platform", "Douyin")
    platform = Platform.objects.get(code="douyin")
    assert platform.name == "Douyin" and platform.is_active
    assert api_key_authenticate(out.strip()).platform == platform
    assert "Created platform douyin" in err


def test_create_api_key_command_refuses_a_bad_platform_code(db):
    with pytest.raises(CommandError, match="Cannot create platform"):
        run("create_api_key", "--platform", "Bad Code!", "--create-platform", "Bad")
    assert not Platform.objects.exists()


def test_create_api_key_command_warns_about_an_inactive_platform(db):
    make_platform(is_active=False)
    _out, err = run("create_api_key", "--platform", "weibo")
    assert "inactive" in err


def test_revoke_api_key_command(platform):
    key, raw = make_key(platform)
    out, _err = run("revoke_api_key", key.display_prefix, "--reason", "rotated")
    assert "Revoked API key" in out
    assert api_key_authenticate(raw).is_revoked
    assert AuditEvent.objects.get(action="apikey.revoke").reason == "rotated"
    out, _err = run("revoke_api_key", key.prefix)
    assert "already revoked" in out


def test_revoke_api_key_command_unknown_prefix(db):
    with pytest.raises(CommandError, match="No API key has the prefix"):
        run("revoke_api_key", "zzzzzzzz")


def test_platform_keys_forget_drops_the_cached_lookups_of_that_platforms_keys(platform, settings):
    settings.API_KEY_CACHE_SECONDS = 60
    other = make_platform("douyin", "Douyin")
    (_key, raw), (_other_key, other_raw) = make_key(platform), make_key(other)
    assert api_key_authenticate(raw).platform.is_active and api_key_authenticate(other_raw).platform.is_active
    Platform.objects.update(is_active=False)  # behind the services' back: the cached lookups still say active
    assert api_key_authenticate(raw).platform.is_active
    platform_keys_forget(platform)
    assert not api_key_authenticate(raw).platform.is_active
    assert api_key_authenticate(other_raw).platform.is_active  # another platform's keys stay cached
    api_keys_forget([parse_prefix(other_raw)])
    assert not api_key_authenticate(other_raw).platform.is_active
    api_keys_forget([])  # nothing to forget is fine
