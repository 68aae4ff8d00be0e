"""The image hash index benchmark (`bench_image_index`): multi-index hashing against a plain numpy scan of the
same stored hashes, in the same run, plus the time to decode and hash a picture through the fingerprint
pipeline against the full-size baseline (pure: numpy, Pillow, pdqhash).

Stored hashes are uniformly random 256-bit values (real PDQ hashes are balanced by construction: each bit is
set for half the image's DCT coefficients). Queries are copies of stored hashes with 0-40 random bits flipped,
so about three quarters have an answer at distance <= 31 and the rest have none, as for copies and unrelated
posts.
"""

import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from debunk.images.hashing import MATCH_DISTANCE, pdq, pdq_dihedral
from debunk.images.index import ImageHashIndex
from debunk.images.pipeline import ALGORITHM, HASH_SIDE, fingerprint_image


def scene(seed: int, width: int = 640, height: int = 480, shapes: int = 12) -> np.ndarray:
    """A deterministic picture: a smooth two-axis gradient with filled rectangles and discs of random colours,
    drawn with numpy only (no font or Pillow drawing, so the pixels, and so the hashes, do not move with a
    library's rendering)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    start, end = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    angle = rng.uniform(0, np.pi)
    t = (np.cos(angle) * x / width + np.sin(angle) * y / height + 1.0) / 2.5
    image = (start + (end - start) * t[..., None]).astype(np.float32)
    for _ in range(shapes):
        colour = rng.integers(0, 256, 3)
        cx, cy = rng.integers(0, width), rng.integers(0, height)
        size = rng.integers(min(width, height) // 12, min(width, height) // 3)
        if rng.random() < 0.5:
            mask = (np.abs(x - cx) < size) & (np.abs(y - cy) < size * rng.uniform(0.3, 1.0))
        else:
            mask = (x - cx) ** 2 + (y - cy) ** 2 < size**2
        image[mask] = colour
    return np.clip(image, 0, 255).astype(np.uint8)


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, np.iinfo(np.uint64).max, (n, 4), dtype=np.uint64, endpoint=True)


def make_queries(rng: np.random.Generator, hashes: np.ndarray, count: int) -> np.ndarray:
    queries = hashes[rng.integers(0, hashes.shape[0], count)].copy()
    for q in queries:
        for bit in rng.choice(256, int(rng.integers(0, 41)), replace=False):
            q[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return queries


def _latencies(fn: Callable[[np.ndarray], Any], queries: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    fn(queries[0])  # warm-up (compiled code loaded, pages touched)
    seconds, answers = [], []
    for q in queries:
        started = time.perf_counter()
        answers.append(fn(q))
        seconds.append(time.perf_counter() - started)
    return np.array(seconds) * 1e3, answers


def index_figures(n: int, queries: int, max_distance: int = MATCH_DISTANCE, seed: int = 0) -> dict[str, Any]:
    """Figures for one stored size: build, save/load, memory, and per-query ms of the plain numpy scan
    (baseline), the compiled scan and the index (multi-index hashing), with whether they agree."""
    rng = np.random.default_rng(seed)
    label = size_label(n)
    hashes = random_hashes(rng, n)
    rumor_ids = np.arange(n, dtype=np.int64) // 2  # two hashes per rumor (a picture and its mirror, say)
    qs = make_queries(rng, hashes, queries)
    figures: dict[str, Any] = {}

    started = time.perf_counter()
    built = ImageHashIndex.build(hashes, rumor_ids)
    figures[f"build_s_{label}"] = round(time.perf_counter() - started, 3)
    with tempfile.TemporaryDirectory(prefix="bench-image-index-") as tmp:
        started = time.perf_counter()
        built.save(Path(tmp))
        figures[f"save_s_{label}"] = round(time.perf_counter() - started, 3)
        del built
        started = time.perf_counter()
        index = ImageHashIndex.load(Path(tmp))
        figures[f"load_s_{label}"] = round(time.perf_counter() - started, 4)
        figures[f"index_mb_{label}"] = round(index.nbytes() / 2**20, 1)
        figures[f"index_bytes_per_hash_{label}"] = round(index.nbytes() / max(n, 1), 1)

        numpy_ms, numpy_answers = _latencies(lambda q: index.query(q, max_distance, method="numpy"), qs)
        scan_ms, _ = _latencies(lambda q: index.query(q, max_distance, method="scan"), qs)
        index_ms, index_answers = _latencies(lambda q: index.query(q, max_distance), qs)
        started = time.perf_counter()
        batch_answers = index.query_batch(qs, max_distance)
        batch_ms = (time.perf_counter() - started) * 1e3 / len(qs)

    figures[f"numpy_scan_ms_{label}"] = round(float(np.percentile(numpy_ms, 50)), 3)
    figures[f"numpy_scan_ms_p99_{label}"] = round(float(np.percentile(numpy_ms, 99)), 3)
    figures[f"compiled_scan_ms_{label}"] = round(float(np.percentile(scan_ms, 50)), 3)
    figures[f"index_query_ms_{label}"] = round(float(np.percentile(index_ms, 50)), 3)
    figures[f"index_query_ms_p99_{label}"] = round(float(np.percentile(index_ms, 99)), 3)
    figures[f"index_batch_ms_per_query_{label}"] = round(batch_ms, 3)
    figures[f"index_speedup_{label}"] = round(float(np.percentile(numpy_ms, 50) / np.percentile(index_ms, 50)), 1)
    figures[f"queries_answered_{label}"] = sum(bool(a) for a in index_answers)
    figures[f"index_agrees_with_numpy_{label}"] = index_answers == numpy_answers == batch_answers
    return figures


def jpeg_bytes(width: int = 1024, height: int = 768, seed: int = 0) -> bytes:
    out = io.BytesIO()
    Image.fromarray(scene(seed, width, height)).save(out, "JPEG", quality=85)
    return out.getvalue()


def decode_with_pillow(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def hash_figures(samples: int = 30) -> dict[str, Any]:
    """ms to decode a 1024x768 JPEG and hash it: through the pipeline (`fingerprint_image`: safe decode at reduced
    size, <= 512 px, PDQ with its 8 dihedral variants in one pass), and the full-size baseline of the same run
    (Pillow open + convert, PDQ; and PDQ with its dihedral variants), with the distance between the two hashes."""
    data = [jpeg_bytes(seed=s) for s in range(samples)]

    def full_pdq(blob: bytes) -> Any:
        return pdq(decode_with_pillow(blob))

    def full_dihedral(blob: bytes) -> Any:
        return pdq_dihedral(decode_with_pillow(blob))

    figures: dict[str, Any] = {
        "hash_decoder": f"fingerprint_image ({ALGORITHM}: safe decode, JPEG draft, <= {HASH_SIDE} px, PDQ dihedral)",
        "hash_baseline": "pillow open + convert('RGB') at full size, PDQ",
    }
    timed: list[tuple[str, Callable[[bytes], Any]]] = [
        ("hash_ms", fingerprint_image),
        ("hash_full_size_ms", full_pdq),
        ("hash_full_size_dihedral_ms", full_dihedral),
    ]
    for name, fn in timed:
        fn(data[0])
        seconds = []
        for blob in data:
            started = time.perf_counter()
            fn(blob)
            seconds.append(time.perf_counter() - started)
        figures[f"{name}_p50"] = round(float(np.percentile(seconds, 50)) * 1e3, 2)
    figures["hash_dihedral_ms_p50"] = figures["hash_ms_p50"]  # the pipeline always gives the 8 variants
    figures["hash_speedup"] = round(figures["hash_full_size_ms_p50"] / figures["hash_ms_p50"], 1)
    distances = [fingerprint_image(blob).pdq.distance(full_pdq(blob)) for blob in data]
    figures["hash_distance_to_full_size_max"] = max(distances)
    figures["hash_distance_to_full_size_mean"] = round(float(np.mean(distances)), 1)
    started = time.perf_counter()
    for blob in data:
        decode_with_pillow(blob)
    figures["decode_full_size_ms_mean"] = round((time.perf_counter() - started) * 1e3 / samples, 2)
    return figures
