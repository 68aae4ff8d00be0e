"""Keeping stored fingerprints and the match index version in step with the rumor stock.

Called inside the rumor services' transactions, so a fingerprint never disagrees with its text and the
version bump commits with the change that caused it.
"""

import numpy as np

from debunk.matching.fingerprint import NUM_PERM, SHINGLE_SIZE, TextFingerprint, fingerprint
from debunk.matching.models import Fingerprint, IndexChange
from debunk.matching.normalize import normalize
from debunk.semantic.services import embed_later
from debunk.stock.models import Rumor, RumorVariant
from search.services import rumor_search_schedule

ALGORITHM = f"minhash{NUM_PERM}-c{SHINGLE_SIZE}-affine32-s1"


def fingerprint_text(text: str) -> TextFingerprint:
    return fingerprint(normalize(text).text)


def fingerprint_fields(text: str) -> dict:
    """A Fingerprint row's fields for a text (a post's, or a rumor's claim or variant)."""
    return _fields(fingerprint_text(text))


def _fields(fp: TextFingerprint) -> dict:
    return {
        "algorithm": ALGORITHM,
        "normalized_length": len(fp.normalized),
        "exact_hash": fp.exact,
        "signature": fp.signature.astype("<u4").tobytes() if fp.signature is not None else None,
        "shingles": fp.shingles.astype("<u4").tobytes(),
    }


def rumor_fingerprints_sync(rumor: Rumor) -> None:
    """(Re)compute the claim's and every variant's fingerprint; drops those of removed variants."""
    Fingerprint.objects.update_or_create(
        rumor=rumor, source=Fingerprint.Source.CLAIM, defaults=_fields(fingerprint_text(rumor.claim))
    )
    Fingerprint.objects.filter(rumor=rumor, source=Fingerprint.Source.VARIANT, variant__isnull=True).delete()
    for variant in rumor.variants.all():
        variant_fingerprint_sync(variant)


def variant_fingerprint_sync(variant: RumorVariant) -> None:
    Fingerprint.objects.update_or_create(
        variant=variant,
        defaults={
            "rumor": variant.rumor,
            "source": Fingerprint.Source.VARIANT,
            **_fields(fingerprint_text(variant.text)),
        },
    )


def index_bump(rumor: Rumor | None = None) -> None:
    """Tell every serving process that what this rumor matches has changed (None: everything)."""
    IndexChange.objects.create(rumor_id=rumor.pk if rumor is not None else None)
    if rumor is not None:
        rumor_search_schedule(rumor)  # search: re-index (or drop) the rumor once this transaction commits
        embed_later(rumor.pk)  # the semantic extra (when on): embed its changed texts, by a task after the commit


def decode(data: bytes | memoryview | None) -> np.ndarray | None:
    if data is None:
        return None
    return np.frombuffer(bytes(data), dtype="<u4").astype(np.uint32)
