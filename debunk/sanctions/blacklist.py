"""Blacklist and network-wide registration ban, by identity hash.

An identity hash is the HMAC-SHA256 (hex) of a phone number or an id document number under a key the platforms
share and Debunk never holds: Debunk can compare hashes, never recover an identity. The platform whose account
was sanctioned with a blacklist or a registration ban links the account holder's identity hashes to the
sanction (`identities_link`); they count while the sanction is active.

- registration ban: the identity is refused on every platform;
- blacklist: it is refused by the sanctioning platform only (its own blacklist, kept here).
"""

import re
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from debunk.api.models import Platform
from debunk.core.audit import audit_record
from debunk.sanctions.models import IDENTITY_MEASURES, BannedIdentity, Measure, Sanction

HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_HASHES = 1_000
LINKABLE = (Sanction.Status.ACTIVE,)
VISIBLE = (Sanction.Status.ACTIVE, Sanction.Status.EXPIRED, Sanction.Status.LIFTED, Sanction.Status.OVERTURNED)
_STRENGTH = {Measure.BLACKLIST.value: 1, Measure.REGISTRATION_BAN.value: 2}


def is_identity_hash(value: Any) -> bool:
    return isinstance(value, str) and HEX64.match(value) is not None


def identities_link(*, platform: Platform, sanction_id: int, hashes: list[str]) -> int:
    """Link identity hashes (already validated) to the platform's own active blacklist or registration-ban
    sanction; returns how many links are new. Another platform's sanction (or one not decided yet) is
    `Sanction.DoesNotExist`."""
    sanction = Sanction.objects.get(pk=sanction_id, platform=platform, status__in=VISIBLE)
    if sanction.measure not in IDENTITY_MEASURES:
        raise ValidationError({"sanction_id": [_("Identities are linked only to a blacklist or registration ban.")]})
    if sanction.status not in LINKABLE:
        raise ValidationError({"sanction_id": [_("This sanction has ended.")]})
    wanted = sorted({h.lower() for h in hashes})
    with transaction.atomic():
        known = set(
            BannedIdentity.objects.filter(sanction=sanction, identity_hash__in=wanted).values_list(
                "identity_hash", flat=True
            )
        )
        fresh = [BannedIdentity(identity_hash=h, sanction=sanction) for h in wanted if h not in known]
        BannedIdentity.objects.bulk_create(fresh, ignore_conflicts=True)
        if fresh:
            audit_record(
                actor=None,
                action="blacklist.link",
                target=sanction,
                changes={"identities": [len(known), len(known) + len(fresh)]},
                reason=f"platform:{platform.code}",
            )
    return len(fresh)


def identities_check(*, platform: Platform, hashes: list[str], now: datetime | None = None) -> dict[str, dict]:
    """`{hash: {banned, until, reason_code}}` for each (lower-cased) hash, in one query: a registration ban of
    any platform, or a blacklist of the calling platform, active and not past its end."""
    now = now or timezone.now()
    wanted = {h.lower() for h in hashes}
    rows = (
        BannedIdentity.objects.filter(identity_hash__in=wanted, sanction__status=Sanction.Status.ACTIVE)
        .filter(Q(sanction__measure=Measure.REGISTRATION_BAN) | Q(sanction__platform=platform))
        .filter(Q(sanction__ends_at__isnull=True) | Q(sanction__ends_at__gt=now))
        .values_list("identity_hash", "sanction__measure", "sanction__ends_at")
    )
    found: dict[str, dict] = {}
    for identity, measure, ends_at in rows:
        current = found.get(identity)
        candidate = {"banned": True, "until": ends_at, "reason_code": measure}
        if current is None or _stronger(candidate, current):
            found[identity] = candidate
    clear = {"banned": False, "until": None, "reason_code": None}
    return {h: found.get(h, clear) for h in wanted}


def _stronger(a: dict, b: dict) -> bool:
    if _STRENGTH[a["reason_code"]] != _STRENGTH[b["reason_code"]]:
        return _STRENGTH[a["reason_code"]] > _STRENGTH[b["reason_code"]]
    if a["until"] is None or b["until"] is None:
        return a["until"] is None and b["until"] is not None
    return a["until"] > b["until"]
