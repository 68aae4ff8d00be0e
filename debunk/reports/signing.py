"""Signed statements (evidence receipts, hand-over manifests): Ed25519 over canonical JSON. Pure: no Django.

A signed statement is a JSON object whose `signature` is the base64 Ed25519 signature of the canonical JSON of
every other field (keys sorted, no spaces, UTF-8), and whose `key_id` names the public key that checks it
(the first 16 hex digits of the key's SHA-256). Anyone with the public key verifies it offline; only the server
(holding the private key) can make one, so a receipt cannot be forged or altered by its holder.
"""

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALGORITHM = "Ed25519"


def canonical(value: Any) -> bytes:
    """The bytes a signature covers: JSON with sorted keys and no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def private_key(seed: bytes) -> Ed25519PrivateKey:
    """The signing key of a 32-byte seed."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest() if len(seed) != 32 else seed)


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public key as base64 of its 32 raw bytes (what `verify` and the offline command take)."""
    return base64.b64encode(public_bytes(key)).decode()


def key_id(public: bytes) -> str:
    return hashlib.sha256(public).hexdigest()[:16]


def sign(statement: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The statement with `alg`, `key_id` and `signature` added."""
    body = {k: v for k, v in statement.items() if k != "signature"}
    body["alg"] = ALGORITHM
    body["key_id"] = key_id(public_bytes(key))
    return {**body, "signature": base64.b64encode(key.sign(canonical(body))).decode()}


def verify(signed: Any, public_key: str | bytes) -> bool:
    """True when `signed` is a statement signed by the key (base64 text or raw bytes) and unchanged since."""
    if not isinstance(signed, dict) or not isinstance(signed.get("signature"), str):
        return False
    try:
        raw = base64.b64decode(public_key, validate=True) if isinstance(public_key, str) else public_key
        public = Ed25519PublicKey.from_public_bytes(raw)
        signature = base64.b64decode(signed["signature"], validate=True)
        body = {k: v for k, v in signed.items() if k != "signature"}
        if body.get("alg") != ALGORITHM or body.get("key_id") != key_id(raw):
            return False
        public.verify(signature, canonical(body))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
