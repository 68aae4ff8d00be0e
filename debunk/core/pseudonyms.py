"""Pseudonymous ids: Debunk never stores a platform's user or author id, only a keyed HMAC of it.

Each platform has its own key, derived from PSEUDONYM_SECRET, so hashes of one platform cannot be joined
with another's, and the platform (given its key by `platform_pseudonym_key`) can compute the same hash to
find its own user again when a correction arrives.
"""

import hashlib
import hmac
from functools import lru_cache

from django.conf import settings

from debunk.api.models import Platform


@lru_cache(maxsize=256)
def _key(secret: str, platform_code: str) -> bytes:
    return hmac.new(secret.encode(), b"debunk-pseudonym:" + platform_code.encode(), hashlib.sha256).digest()


def platform_pseudonym_key(platform: Platform) -> bytes:
    """The platform's HMAC key (derived; never stored)."""
    return _key(settings.PSEUDONYM_SECRET, platform.code)


def pseudonym(platform: Platform, ref: str) -> str:
    """HMAC-SHA256 (hex) of a platform's pseudonymous user or author id."""
    return hmac.new(platform_pseudonym_key(platform), ref.encode(), hashlib.sha256).hexdigest()
