"""Loads the match benchmark's stock into a throwaway database; run by debunk.bench.http_match in a subprocess.

    python -m debunk.bench.http_match_server DIR

DIR holds `stock.npz` and `claims.json` written by the parent, and optionally `images.json` (rumor images: the file,
its rumor's position in claims.json and its fingerprints as `pipeline.fingerprint_image` gave them); the environment
(DATABASE_URL, MATCH_INDEX_DIR, MEDIA_ROOT, …) points at the throwaway database, index and media. Prints one JSON
line: the raw API key, the index version and counts.

The rows are written with bulk_create, bypassing the rumor services (no audit events, no history rows, no
per-rumor IndexChange): acceptable for benchmark data only, never for real data. The fingerprints are the ones
the parent already computed, stored byte for byte as debunk.matching.fingerprints._fields stores them.
"""

import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

BATCH_SIZE = 5000


def load(directory: Path) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "debunk.settings")
    django.setup()

    from django.conf import settings
    from django.core.management.color import no_style
    from django.db import connection, transaction
    from django.utils import timezone

    from debunk.api.keys import api_key_create
    from debunk.api.models import Platform
    from debunk.core.roles import REVIEWER, operator_user, system_user
    from debunk.matching.fingerprints import ALGORITHM
    from debunk.matching.models import Fingerprint, IndexChange
    from debunk.matching.serving import current_index, latest_version
    from debunk.stock.models import Debunk, Rumor
    from labels.models import Category, VerdictLabel

    started = time.perf_counter()
    with np.load(directory / "stock.npz", allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    claims: list[str] = json.loads((directory / "claims.json").read_text(encoding="utf-8"))
    sh_off, sh_data, sig, has_sig = arrays["sh_off"], arrays["sh_data"], arrays["sig"], arrays["has_sig"]
    exact, norm_len = arrays["exact"], arrays["norm_len"]
    count = len(claims)
    if not (len(sh_off) == count + 1 and len(sig) == len(has_sig) == len(exact) == len(norm_len) == count):
        raise SystemExit(f"stock files disagree: {count} claims, {len(sh_off) - 1} shingle sets, {len(sig)} signatures")

    now = timezone.now()
    with transaction.atomic():
        user = system_user("system-benchmark", REVIEWER)
        platform = Platform.objects.create(code="benchmark", name="Benchmark")
        _key, raw = api_key_create(platform=platform, name="http benchmark", by=operator_user())
        category = Category.objects.get(code="other")
        verdict = VerdictLabel.objects.get(code="false")
        # The database is new, so explicit ids 1..n are free and tie rumor, debunk and fingerprint together.
        Rumor.objects.bulk_create(
            (
                Rumor(
                    id=i + 1,
                    claim=claim,
                    category=category,
                    verdict=verdict,
                    status=Rumor.Status.PUBLISHED,
                    published_at=now,
                    created_by=user,
                    updated_by=user,
                )
                for i, claim in enumerate(claims)
            ),
            batch_size=BATCH_SIZE,
        )
        Debunk.objects.bulk_create(
            (
                Debunk(
                    id=i + 1,
                    rumor_id=i + 1,
                    title=f"基准辟谣 {i + 1}",
                    summary="基准测试用的辟谣摘要。",
                    body="基准测试用的辟谣正文。",
                    published_at=now,
                    created_by=user,
                )
                for i in range(count)
            ),
            batch_size=BATCH_SIZE,
        )
        Fingerprint.objects.bulk_create(
            (
                Fingerprint(
                    id=i + 1,
                    source=Fingerprint.Source.CLAIM,
                    rumor_id=i + 1,
                    algorithm=ALGORITHM,
                    normalized_length=int(norm_len[i]),
                    exact_hash=exact[i].decode("ascii"),
                    signature=sig[i].astype("<u4").tobytes() if has_sig[i] else None,
                    shingles=sh_data[sh_off[i] : sh_off[i + 1]].astype("<u4").tobytes(),
                )
                for i in range(count)
            ),
            batch_size=BATCH_SIZE,
        )
        IndexChange.objects.create(rumor_id=None)
        images = _load_images(directory, user)
        # Explicit ids leave PostgreSQL's sequences at 1: move them past the rows, so that later inserts (an
        # import during bench_import_latency) get free ids. SQLite needs nothing (no statements).
        from debunk.images.models import ImageFingerprint
        from debunk.stock.models import Attachment

        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(
                no_style(), [Rumor, Debunk, Fingerprint, Attachment, ImageFingerprint]
            ):
                cursor.execute(sql)
    loaded = time.perf_counter() - started

    # Build the shared snapshot once, here, so that the gunicorn workers only memory-map it.
    index = current_index()
    claim_seconds = None
    if settings.CLAIM_MATCHING:  # the claim index's snapshot too (debunk.matching.claim_serving)
        from debunk.matching.claim_serving import current_claim_index

        claim_started = time.perf_counter()
        current_claim_index()
        claim_seconds = round(time.perf_counter() - claim_started, 1)
    return {
        "claim_snapshot_seconds": claim_seconds,
        "key": raw,
        "version": latest_version(),
        "index_version": index.version,
        "fingerprints": len(index),
        "images": images,
        "load_seconds": round(loaded, 1),
        "snapshot_seconds": round(time.perf_counter() - started - loaded, 1),
    }


def _load_images(directory: Path, user) -> int:
    """The rumor images of `images.json` as attachments of role "image of the rumor" (files copied into MEDIA_ROOT)
    with their stored fingerprints, as `debunk.images.services` stores them; the rumors are those of claims.json."""
    path = directory / "images.json"
    if not path.is_file():
        return 0
    from django.conf import settings

    from debunk.images.models import ImageFingerprint
    from debunk.images.pipeline import ALGORITHM
    from debunk.stock.models import Attachment

    records = json.loads(path.read_text(encoding="utf-8"))
    folder = Path(settings.MEDIA_ROOT) / "attachments" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    attachments, prints = [], []
    for i, record in enumerate(records):
        name = Path(record["path"]).name
        shutil.copyfile(record["path"], folder / name)
        attachments.append(
            Attachment(
                id=i + 1,
                rumor_id=record["rumor"] + 1,
                kind=Attachment.Kind.IMAGE,
                role=Attachment.Role.RUMOR_IMAGE,
                file=f"attachments/bench/{name}",
                original_name=name,
                content_type=record["content_type"],
                size=record["size"],
                width=record["width"],
                height=record["height"],
                sha256=record["sha256"],
                original_sha256=record["sha256"],
                uploaded_by=user,
            )
        )
        prints.append(
            ImageFingerprint(
                id=i + 1,
                attachment_id=i + 1,
                rumor_id=record["rumor"] + 1,
                algorithm=ALGORITHM,
                pdq=bytes.fromhex(record["pdq"]),
                quality=record["quality"],
                dihedral=bytes.fromhex(record["dihedral"]),
                width=record["width"],
                height=record["height"],
            )
        )
    Attachment.objects.bulk_create(attachments, batch_size=BATCH_SIZE)
    ImageFingerprint.objects.bulk_create(prints, batch_size=BATCH_SIZE)
    return len(records)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m debunk.bench.http_match_server DIR")
    print(json.dumps(load(Path(argv[0]))), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
