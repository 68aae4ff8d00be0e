"""Hand-over packages: writing one, and checking one offline. Pure: no Django.

A package is a ZIP file holding
- `items.json`: the leads and rumors handed over;
- `evidence/<sha256>.<ext>`: the evidence files (screenshots, attachments), each named by its SHA-256;
- `manifest.json`: a signed statement (`debunk.reports.signing`) listing every other file's path, size and SHA-256,
  with the hand-over's id, recipient, creation time and creator.

The package is intact when the manifest's signature holds under the server's public key and the ZIP holds exactly
the files it lists, with those sizes and hashes. Check one with

    python -m debunk.reports.package PACKAGE.zip --public-key BASE64

(exit status 0: valid, 1: invalid, 2: usage error; one line on the output either way).
"""

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from debunk.reports import signing

MANIFEST = "manifest.json"
ITEMS = "items.json"
KIND = "debunk.handover.manifest"
VERSION = 1
EVIDENCE_NAME = re.compile(r"^evidence/([0-9a-f]{64})(\.[a-z0-9]{1,8})?$")
# ZIP entries carry this fixed time, so that the same files make the same package bytes.
FIXED_TIME = (2000, 1, 1, 0, 0, 0)


def evidence_path(data: bytes, ext: str) -> str:
    """Where an evidence file goes in a package: `evidence/<sha256>.<ext>` (`ext` without its dot, may be empty)."""
    ext = re.sub(r"[^a-z0-9]", "", (ext or "").lower())[:8]
    return f"evidence/{signing.sha256_hex(data)}" + (f".{ext}" if ext else "")


def package_write(
    out: BinaryIO, files: Sequence[tuple[str, bytes]], statement: dict[str, Any], key: Ed25519PrivateKey
) -> dict[str, Any]:
    """Write a package of `files` (path, bytes; `items.json` among them) to `out` and return its signed manifest:
    `statement` (hand-over id, recipient, …) with the kind, version and the list of files added."""
    paths = [path for path, _data in files]
    if MANIFEST in paths or len(set(paths)) != len(paths):
        raise ValueError("file paths must be distinct and not the manifest's")
    listed = [{"path": path, "size": len(data), "sha256": signing.sha256_hex(data)} for path, data in files]
    manifest = signing.sign({**statement, "kind": KIND, "v": VERSION, "files": listed}, key)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in [*files, (MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode())]:
            info = zipfile.ZipInfo(path, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return manifest


def _listed_files(manifest: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    problems: list[str] = []
    files = manifest.get("files")
    if not isinstance(files, list):
        return {}, ["the manifest lists no files"]
    listed: dict[str, dict[str, Any]] = {}
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            problems.append("the manifest has a malformed file entry")
            continue
        if entry["path"] in listed:
            problems.append(f"{entry['path']}: listed twice in the manifest")
        listed[entry["path"]] = entry
    return listed, problems


def verify_package(path: str | Path, public_key: str | bytes) -> list[str]:
    """The problems of a package (empty: it is intact and signed by the holder of `public_key`, base64 text or the
    32 raw bytes)."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return [f"not a readable ZIP file: {exc}"]
    with archive:
        names = [info.filename for info in archive.infolist()]
        problems = [f"{name}: appears twice in the ZIP" for name in sorted(set(names)) if names.count(name) > 1]
        if MANIFEST not in names:
            return [*problems, f"{MANIFEST} is missing"]
        try:
            manifest = json.loads(archive.read(MANIFEST))
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            return [*problems, f"{MANIFEST} is not readable JSON: {exc}"]
        if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
            return [*problems, f"{MANIFEST} is not a hand-over manifest"]
        if not signing.verify(manifest, public_key):
            problems.append(f"{MANIFEST}: the signature does not hold (altered, or signed with another key)")
        listed, listing_problems = _listed_files(manifest)
        problems += listing_problems
        for name in sorted(set(names) - {MANIFEST} - set(listed)):
            problems.append(f"{name}: in the ZIP but not in the manifest")
        for name, entry in listed.items():
            if name not in names:
                problems.append(f"{name}: listed in the manifest but missing")
                continue
            try:
                data = archive.read(name)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:  # a damaged entry fails its CRC
                problems.append(f"{name}: cannot be read ({exc})")
                continue
            digest = hashlib.sha256(data).hexdigest()
            if len(data) != entry.get("size") or digest != entry.get("sha256"):
                problems.append(f"{name}: size or SHA-256 differs from the manifest")
            match = EVIDENCE_NAME.match(name)
            if name.startswith("evidence/") and (match is None or match.group(1) != digest):
                problems.append(f"{name}: not named by its SHA-256")
        if ITEMS not in listed:
            problems.append(f"{ITEMS} is missing")
    return problems


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit status 2
        self.exit(2, f"usage error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m debunk.reports.package", description="Check a hand-over package offline.")
    parser.add_argument("package", help="the package (ZIP file)")
    parser.add_argument("--public-key", required=True, help="the server's public key (base64 of 32 bytes)")
    args = parser.parse_args(argv)
    try:
        raw = base64.b64decode(args.public_key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        parser.error("--public-key must be the base64 of 32 bytes")
    if not Path(args.package).is_file():
        parser.error(f"no such file: {args.package}")
    problems = verify_package(args.package, raw)
    if problems:
        print(f"INVALID: {'; '.join(problems)}")
        return 1
    with zipfile.ZipFile(args.package) as archive:
        manifest = json.loads(archive.read(MANIFEST))
    print(
        f"VALID: hand-over #{manifest.get('handover_id')} to {manifest.get('recipient')}, "
        f"{len(manifest.get('files', []))} files, signed by key {manifest.get('key_id')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
