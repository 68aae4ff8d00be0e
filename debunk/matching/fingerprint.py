"""Fingerprints of normalised text: MinHash signatures over character n-grams, or an exact hash for
short texts.

Signatures use datasketch 2.x's default `affine32` scheme with its seed-1 permutations, so
`datasketch.LeanMinHash(seed=SEED, hashvalues=sig, scheme="affine32")` and `MinHashLSH` accept them as they are. What
differs is the shingle hash: instead of SHA-1 per n-gram, the n-gram's code points are packed into one
64-bit integer and mixed with splitmix64, all in numpy — that is most of the speed-up over datasketch
defaults (measured by `bench_match`).
"""

import hashlib
from dataclasses import dataclass
from functools import cache

import numpy as np

NUM_PERM = 128
SEED = 1
SHINGLE_SIZE = 3
SHORT_TEXT = 15  # normalised texts shorter than this match by exact hash only

# splitmix64 constants. Integer arithmetic on numpy arrays wraps modulo 2^64 (or 2^32) without a warning,
# which is what the mixing and the affine permutations want.
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@cache
def permutations() -> tuple[np.ndarray, np.ndarray]:
    """datasketch's own (a, b) for num_perm=128, seed=1, scheme affine32."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32").permutations
    return np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32)


def positional_shingles(text: str, size: int = SHINGLE_SIZE) -> np.ndarray:
    """32-bit hashes of the text's character n-grams, in text order (n-gram i starts at character i)."""
    if len(text) < size:
        return np.empty(0, dtype=np.uint32)
    return hash_ngrams(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), size)


def hash_ngrams(codepoints: np.ndarray, size: int = SHINGLE_SIZE) -> np.ndarray:
    """Hashes of every n-gram of a code point array (the caller drops those that straddle two texts)."""
    cps = codepoints.astype(np.uint64)
    count = len(cps) - size + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint32)
    packed = cps[:count].copy()
    for i in range(1, size):
        packed = (packed << np.uint64(21)) | cps[i : count + i]
    z = packed ^ (packed >> np.uint64(30))
    z = z * _M1
    z = z ^ (z >> np.uint64(27))
    z = z * _M2
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(32)).astype(np.uint32)


def shingle_hashes(text: str, size: int = SHINGLE_SIZE) -> np.ndarray:
    """Sorted unique 32-bit hashes of the text's character n-grams (empty when shorter than n)."""
    return np.unique(positional_shingles(text, size))


def permuted(positional: np.ndarray) -> np.ndarray:
    """(n, 128) permuted hash values of the n-grams; min over rows is the MinHash of any run of them."""
    a, b = permutations()
    return positional[:, None] * a[None, :] + b[None, :]


def minhash(shingles: np.ndarray) -> np.ndarray:
    """The 128-value MinHash signature (uint32) of a shingle-hash set."""
    a, b = permutations()
    if shingles.size == 0:
        return np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    return (shingles[:, None] * a[None, :] + b[None, :]).min(axis=0)


def exact_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TextFingerprint:
    """What matching needs of one normalised text."""

    normalized: str
    shingles: np.ndarray  # sorted unique uint32
    signature: np.ndarray | None  # uint32[128], None for short texts
    exact: str  # sha256 of the normalised text

    @property
    def is_short(self) -> bool:
        return self.signature is None


def fingerprint(
    normalized: str, positional: np.ndarray | None = None, values: np.ndarray | None = None
) -> TextFingerprint:
    """Fingerprint of a normalised text; pass its positional n-grams and their permuted values when the
    caller already has them (the matcher reuses them for windows)."""
    positional = positional_shingles(normalized) if positional is None else positional
    signature = None
    if len(normalized) >= SHORT_TEXT:
        values = permuted(positional) if values is None else values
        signature = values.min(axis=0) if positional.size else minhash(positional)
    return TextFingerprint(normalized, np.unique(positional), signature, exact_hash(normalized))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique shingle sets."""
    if a.size == 0 or b.size == 0:
        return 0.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)


def containment(rumor: np.ndarray, post: np.ndarray) -> float:
    """|R ∩ P| / |R|: how much of the rumor's text the post carries."""
    if rumor.size == 0:
        return 0.0
    return np.intersect1d(rumor, post, assume_unique=True).size / rumor.size
