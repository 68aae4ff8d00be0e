"""The image benchmark's HTTP figures: POST /api/v1/match with `{"image": "<plain base64>"}`, served by gunicorn
(2 sync workers) from a throwaway database holding the run's stock (rumor texts, rumor images and their stored
fingerprints), through `http_match.serve`, the harness of the text match benchmark.

- `http_images_per_s_hash_only`: variants the hash matches (JPEG, resize, watermark, caption bar copies), so the
  service answers without OCR; the median of interleaved rounds;
- `http_images_per_s_with_ocr`: variants the hash missed and OCR matched (crops, screenshots of screenshots,
  photos…), so every request runs OCR;
- `http_ocr_image_ms_p50` / `_p95`: one such image at a time (no queue): the latency a single caller sees.

When the server answers the first image with a 4xx (the image API is not there, or refuses the field), the figures
are null and `http_images_unavailable` says what it answered; the rest of the benchmark stands.
"""

import base64
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from debunk.bench import http_match as hm
from debunk.bench.images import HTTP_HASH_FROM, Run

ROUNDS = 3
SECONDS = 4.0
OCR_SECONDS = 20.0
OCR_SINGLE = 8  # sequential requests for the single-image latency
HASH_BODIES = 40
OCR_BODIES = 20
KEYS = (
    "http_images_per_s_hash_only",
    "http_images_per_s_with_ocr",
    "http_ocr_image_ms_p50",
    "http_ocr_image_ms_p95",
)


def _body(data: bytes) -> bytes:
    return json.dumps({"image": base64.b64encode(data).decode("ascii")}).encode("ascii")


def stock_images(run: Run) -> list[dict]:
    """The stock's pictures as http_match_server stores them (the files written by the stock build)."""
    records = []
    for item in run.stock.images:
        if not item.path:
            raise RuntimeError("the stock's files were not kept: build the stock with a directory for the HTTP part")
        records.append(
            {
                "rumor": int(item.key),
                "path": item.path,
                "content_type": "image/jpeg",
                "size": os.path.getsize(item.path),
                "width": item.print.width,
                "height": item.print.height,
                "sha256": item.print.sha256,
                "pdq": item.print.pdq.hex,
                "quality": item.print.quality,
                "dihedral": item.print.dihedral_bits().hex(),
            }
        )
    return records


def bodies(run: Run) -> tuple[list[bytes], list[bytes]]:
    """(variants matched by hash, variants the hash missed and OCR matched) as request bodies."""
    by_hash, by_ocr = [], []
    for key, outcome in run.outcomes.items():
        if outcome.own is None or outcome.data is None:
            continue
        if outcome.hash_own() and key[1] in HTTP_HASH_FROM and len(by_hash) < HASH_BODIES:
            by_hash.append(_body(outcome.data))
        elif not outcome.hash_auto() and outcome.ocr_own() and len(by_ocr) < OCR_BODIES:
            by_ocr.append(_body(outcome.data))
    return by_hash, by_ocr


def unavailable(reason: str) -> dict[str, Any]:
    return {**dict.fromkeys(KEYS), "http_images_unavailable": reason}


def _matched(answer: bytes) -> bool | None:
    try:
        value = json.loads(answer).get("matched")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, bool) else None


def http_figures(run: Run, say: Callable[[str], None]) -> dict[str, Any]:
    """Serve the run's stock with gunicorn and measure the image API; see the module docstring."""
    by_hash, by_ocr = bodies(run)
    if not by_hash or not by_ocr:
        return unavailable(f"too few variants to send ({len(by_hash)} matched by hash, {len(by_ocr)} by OCR only)")
    try:
        with hm.serve(run.stock.prepared, say, images=stock_images(run)) as served:
            return _measure(served, by_hash, by_ocr, say)
    except (RuntimeError, OSError) as exc:  # a server that would not start or load: said, not fatal
        say(f"http: image measurements failed: {exc}")
        return unavailable(f"failed: {str(exc)[:300]}")


def _measure(served: hm.Served, by_hash: list[bytes], by_ocr: list[bytes], say: Callable[[str], None]) -> dict:
    port, headers = served.port, served.headers
    status, answer = hm._request(port, "POST", hm.MATCH, by_hash[0], headers)
    if status != 200:
        reason = f"POST {hm.MATCH} with an image answered {status}: {answer[:300].decode('utf-8', 'replace')}"
        say(f"http: the image API is not available ({reason}); the http_images_* figures are null")
        return unavailable(reason)
    checks = {"hash": [], "ocr": []}
    for name, pool in (("hash", by_hash), ("ocr", by_ocr)):
        for body in pool[:3]:
            status, answer = hm._request(port, "POST", hm.MATCH, body, headers)
            checks[name].append(_matched(answer) if status == 200 else False)
    say(f"http: check answers 'matched': hash-only {checks['hash']}, with OCR {checks['ocr']}")
    hash_endpoint = hm.Endpoint("image_hash", "POST", hm.MATCH, by_hash, 1)
    ocr_endpoint = hm.Endpoint("image_ocr", "POST", hm.MATCH, by_ocr, 1)
    errors = hm.Tally()
    errors.add(hm._hammer(port, headers, hash_endpoint, count=20))
    rates = []
    for round_no in range(1, ROUNDS + 1):
        tally = hm._hammer(port, headers, hash_endpoint, seconds=SECONDS)
        errors.add(tally)
        rates.append(tally.ok / tally.seconds)
        say(f"http: round {round_no}/{ROUNDS} hash-only: {rates[-1]:.1f} images/s ({tally.errors} errors)")
    tally = hm._hammer(port, headers, ocr_endpoint, seconds=OCR_SECONDS)
    errors.add(tally)
    ocr_rate = tally.ok / tally.seconds
    say(
        f"http: with OCR: {ocr_rate:.2f} images/s ({tally.ok} requests in {tally.seconds:.1f} s, {tally.errors} errors)"
    )
    latencies = []
    for body in (by_ocr * OCR_SINGLE)[:OCR_SINGLE]:
        started = time.perf_counter()
        status, answer = hm._request(port, "POST", hm.MATCH, body, headers)
        if status == 200:
            latencies.append(time.perf_counter() - started)
        else:
            errors.error(str(status), f"{hm.MATCH} {status}: {answer[:200]!r}")
    if errors.errors:
        say(f"http: {errors.errors} failed requests: {dict(errors.problems)}; {errors.samples[:3]}")
    return {
        "http_images_per_s_hash_only": round(statistics.median(rates), 1),
        "http_images_per_s_with_ocr": round(ocr_rate, 2),
        "http_ocr_image_ms_p50": round(float(np.percentile(latencies, 50)) * 1000, 1) if latencies else None,
        "http_ocr_image_ms_p95": round(float(np.percentile(latencies, 95)) * 1000, 1) if latencies else None,
        "http_images_checked_matched": checks,
        "http_images_errors": errors.errors,
    }
