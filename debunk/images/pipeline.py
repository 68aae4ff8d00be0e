"""The one path from image bytes to fingerprints (pure: no Django): stored rumor images and queries alike.

Safe decoding (`decode.py`: limits, bombs, EXIF rotation, RGB), a JPEG decoded at reduced size in the DCT
(Pillow's `draft`: 1/2, 1/4 or 1/8, the long side kept >= `HASH_SIDE`), a downscale to at most `HASH_SIDE` px,
then PDQ and its 8 dihedral variants in one pass. PDQ itself reduces every picture to 64 x 64 before its DCT,
so hashing at 512 px instead of full size moves a hash by a few bits (at most 8 of 256 on the benchmark's
pictures, far under the match distance of 31) and takes a fraction of the time (`bench_image_index`:
`hash_ms_p50` against `hash_full_size_ms_p50`).

Stored fingerprints name their `ALGORITHM`: change anything here that moves hashes (the side, the resampling,
the decoder's reduction), and bump it, so that `images_reindex` recomputes the stock.
"""

import hashlib
from dataclasses import dataclass

from debunk.images.decode import ImageLimits, decode_image, downscale_for_hashing
from debunk.images.hashing import HASH_BYTES, PdqHash, pdq_dihedral

HASH_SIDE = 512
DEFAULT_LIMITS = ImageLimits()
ALGORITHM = f"pdq-{HASH_SIDE}-v1"


@dataclass(frozen=True)
class ImagePrint:
    """The fingerprints of one picture; width/height are the full-size picture's once upright."""

    pdq: PdqHash
    dihedral: list[PdqHash]  # the 8 variants in `hashing.DIHEDRAL`'s order; dihedral[0] == pdq
    width: int
    height: int
    format: str
    sha256: str  # of the bytes given
    algorithm: str = ALGORITHM

    @property
    def quality(self) -> int:
        return self.pdq.quality

    def dihedral_bits(self) -> bytes:
        """The 8 variants' hashes concatenated (8 x 32 bytes), as stored."""
        return b"".join(h.bits for h in self.dihedral)


def dihedral_from_bits(data: bytes, quality: int) -> list[PdqHash]:
    """The inverse of `ImagePrint.dihedral_bits`; a `ValueError` if it is not 8 x 32 bytes."""
    data = bytes(data)
    if len(data) != 8 * HASH_BYTES:
        raise ValueError(f"dihedral hashes are 8 x {HASH_BYTES} bytes")
    return [PdqHash(data[i : i + HASH_BYTES], quality) for i in range(0, len(data), HASH_BYTES)]


def fingerprint_image(data: bytes, *, limits: ImageLimits = DEFAULT_LIMITS, side: int = HASH_SIDE) -> ImagePrint:
    """Fingerprints of untrusted image bytes; any bad input raises `decode.ImageRejected` (nothing else read)."""
    decoded = decode_image(data, limits=limits, draft_side=side)
    small = downscale_for_hashing(decoded.image, max_side=side)
    variants = pdq_dihedral(small)
    width, height = decoded.upright_size
    return ImagePrint(
        pdq=variants[0],
        dihedral=variants,
        width=width,
        height=height,
        format=decoded.format,
        sha256=hashlib.sha256(data).hexdigest(),
    )


__all__ = ["ALGORITHM", "HASH_SIDE", "ImagePrint", "dihedral_from_bits", "fingerprint_image"]
