"""Evidence receipts: what the server signs when it takes a report, and the check of one (`receipt_verify`).

A receipt states the report's id, when it was received, and the SHA-256 of each piece of evidence as stored
(text, link, screenshots) and of the whole content; it is signed with the server's Ed25519 key
(`signing.sign`). It is genuine and unchanged when the signature holds and the report it names still holds
evidence with those hashes.
"""

import base64
import hashlib
import hmac
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from debunk.reports import signing

RECEIPT_VERSION = 1


@lru_cache(maxsize=4)
def _key(configured: str, pseudonym_secret: str) -> Ed25519PrivateKey:
    if configured:
        return signing.private_key(base64.b64decode(configured))
    return signing.private_key(hmac.new(pseudonym_secret.encode(), b"debunk-report-signing", hashlib.sha256).digest())


def signing_key() -> Ed25519PrivateKey:
    """The server's signing key (REPORT_SIGNING_KEY, else derived from PSEUDONYM_SECRET)."""
    return _key(settings.REPORT_SIGNING_KEY, settings.PSEUDONYM_SECRET)


def public_key() -> str:
    """The public key that checks receipts and manifests: base64 of its 32 raw bytes."""
    return signing.public_key_text(signing_key())


def receipt_sign(
    *, report_id: int, received_at: str, content_sha256: str, text_sha256: str, url_sha256: str, images: list[str]
) -> dict[str, Any]:
    return signing.sign(
        {
            "kind": "debunk.report.receipt",
            "v": RECEIPT_VERSION,
            "report_id": report_id,
            "received_at": received_at,
            "content_sha256": content_sha256,
            "text_sha256": text_sha256,
            "url_sha256": url_sha256,
            "image_sha256": images,
        },
        signing_key(),
    )


def receipt_verify(receipt: Any) -> bool:
    """True when the receipt was signed by this server, is unchanged, and its report still holds that evidence."""
    from debunk.reports.models import RumorReport

    if not isinstance(receipt, dict) or receipt.get("kind") != "debunk.report.receipt":
        return False
    if not signing.verify(receipt, public_key()):
        return False
    report_id = receipt.get("report_id")
    if not isinstance(report_id, int) or isinstance(report_id, bool):
        return False
    report = RumorReport.objects.select_related("content").filter(pk=report_id).first()
    if report is None or report.content.sha256 != receipt.get("content_sha256"):
        return False
    return report.receipt.get("signature") == receipt["signature"]
