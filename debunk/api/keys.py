"""API keys: create, revoke, authenticate, and record their use.

A key is `dbk_<prefix>_<secret>`: the 8-character prefix is public (stored, shown in the admin and in logs,
used to find the key); the secret is 32 random bytes, URL-safe base64 (43 characters). Only the SHA-256 of the
whole key is stored, and the raw key is returned once, by `api_key_create`.
"""

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from debunk.api.models import ApiKey, ApiRequestLog, Platform
from debunk.core.audit import audit_record
from debunk.core.retention import purge_older_than
from debunk.core.roles import require_perm

KEY_PREFIX = "dbk"
PREFIX_LENGTH = 8
SECRET_BYTES = 32
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_KEY_RE = re.compile(r"^dbk_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$")
_PREFIX_RE = re.compile(r"^(?:dbk_)?([a-z0-9]{8})(?:_.*)?$")
LAST_USED_EVERY = timedelta(minutes=1)
M = TypeVar("M", bound=models.Model)
_JSON_TYPES = (str, int, float, bool)
_MISSING = "missing"  # cached for prefixes that match no key, so unknown keys do not reach the database either


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def parse_key(raw: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None."""
    match = _KEY_RE.match(raw)
    return (match.group(1), match.group(2)) if match else None


def parse_prefix(text: str) -> str | None:
    """The prefix in `ab12cd34`, `dbk_ab12cd34` or a whole key, else None."""
    match = _PREFIX_RE.match(text.strip())
    return match.group(1) if match else None


def _cache_key(prefix: str) -> str:
    return f"debunk:api-key:v2:{prefix}"  # v2: plain fields (v1 held pickled model instances)


def api_keys_forget(prefixes: Iterable[str]) -> None:
    """Drop the cached lookups of these keys (by prefix): the next request reads key and platform from the
    database, in this process at once and, through a shared cache, in every process."""
    cache_keys = [_cache_key(prefix) for prefix in prefixes]
    if cache_keys:
        cache.delete_many(cache_keys)


def platform_keys_forget(platform: Platform) -> None:
    """Drop the cached lookups of a platform's keys (they hold the platform too): call it once a change to the
    platform, such as (de)activation, is committed."""
    api_keys_forget(ApiKey.objects.filter(platform=platform).values_list("prefix", flat=True))


def _plain(instance: models.Model) -> dict[str, Any]:
    """The instance's concrete fields as JSON-ready values (strings, numbers, booleans, None), by attname."""
    plain = {}
    for f in instance._meta.concrete_fields:
        value = f.value_from_object(instance)
        plain[f.attname] = value if value is None or type(value) in _JSON_TYPES else f.value_to_string(instance)
    return plain


def _restore(model: type[M], plain: dict[str, Any]) -> M:
    """An instance as the database would have returned it (nothing deferred: no query on access)."""
    fields = model._meta.concrete_fields
    values = [None if plain[f.attname] is None else f.to_python(plain[f.attname]) for f in fields]
    return model.from_db(model.objects.db, [f.attname for f in fields], values)


def _cached_key(key: ApiKey) -> dict[str, Any]:
    """What the cache holds of a key: plain data, never a pickled model instance, which ties every process sharing
    the cache (Redis) to one version of the model's class and carries whatever state the instance held."""
    return {"key": _plain(key), "platform": _plain(key.platform)}


def _key_from_cache(cached: dict[str, Any]) -> ApiKey:
    key = _restore(ApiKey, cached["key"])
    key.platform = _restore(Platform, cached["platform"])
    return key


def _new_prefix() -> str:
    for _attempt in range(10):
        prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _i in range(PREFIX_LENGTH))
        if not ApiKey.objects.filter(prefix=prefix).exists():
            return prefix
    raise RuntimeError("could not find a free API key prefix")  # 36**8 prefixes: practically unreachable


def api_key_create(*, platform: Platform, name: str, by: Any) -> tuple[ApiKey, str]:
    """Create a key for a platform; returns it with the raw key, which is not stored and cannot be shown again."""
    require_perm(by, "debunk.add_apikey")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the key a name.")})
    prefix = _new_prefix()
    raw = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    key = ApiKey(platform=platform, name=name, prefix=prefix, key_hash=hash_key(raw), created_by=by)
    with transaction.atomic():
        key.full_clean()
        key.save()
        audit_record(
            actor=by,
            action="apikey.create",
            target=key,
            changes={"platform": [None, platform.code], "name": [None, name], "prefix": [None, key.display_prefix]},
        )
    api_keys_forget([prefix])
    return key, raw


def api_key_revoke(*, key: ApiKey, by: Any, reason: str = "") -> ApiKey:
    """Revoke a key (idempotent). It stops working at once in this process and, through the cache, everywhere
    within API_KEY_CACHE_SECONDS."""
    require_perm(by, "debunk.change_apikey")
    if key.revoked_at is not None:
        return key
    key.revoked_at = timezone.now()
    with transaction.atomic():
        key.save(update_fields=["revoked_at"])
        audit_record(
            actor=by,
            action="apikey.revoke",
            target=key,
            changes={"revoked_at": [None, key.revoked_at.isoformat()]},
            reason=reason,
        )
    api_keys_forget([key.prefix])
    return key


def _lookup(prefix: str) -> ApiKey | None:
    seconds = settings.API_KEY_CACHE_SECONDS
    if seconds <= 0:
        return ApiKey.objects.select_related("platform").filter(prefix=prefix).first()
    cached = cache.get(_cache_key(prefix))
    if isinstance(cached, dict):
        return _key_from_cache(cached)
    if cached == _MISSING:
        return None
    key = ApiKey.objects.select_related("platform").filter(prefix=prefix).first()
    cache.set(_cache_key(prefix), _cached_key(key) if key is not None else _MISSING, seconds)
    return key


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The key (with its platform) whose secret matches `raw`, else None (malformed, unknown or wrong secret).

    A revoked key is returned too, so that callers can say so; check `key.is_revoked` and
    `key.platform.is_active`. The lookup is cached for API_KEY_CACHE_SECONDS, keyed by prefix, as plain fields.
    """
    parsed = parse_key(raw)
    if parsed is None:
        return None
    key = _lookup(parsed[0])
    if key is None:
        return None
    if not hmac.compare_digest(key.key_hash, hash_key(raw)):
        return None
    return key


def api_key_touch(key: ApiKey) -> None:
    """Record that a key was used: at most one write a minute per key, never one per request."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_EVERY:
        return
    if not cache.add(f"debunk:api-key-used:{key.pk}", 1, int(LAST_USED_EVERY.total_seconds())):
        return  # this process (or, with Redis, any process) recorded it within the minute
    # The condition keeps it to one write a minute even with per-process caches.
    ApiKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_EVERY)
    ).update(last_used_at=now)


def request_logs_purge(*, older_than_days: int) -> int:
    """Delete API request log rows older than the retention period."""
    return purge_older_than(ApiRequestLog.objects.all(), field="created_at", days=older_than_days)
