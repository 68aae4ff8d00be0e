import io

import numpy as np
import pdqhash
import pytest
from PIL import Image

from debunk.images.hashing import (
    DIHEDRAL,
    MATCH_DISTANCE,
    PdqHash,
    bits_to_hex,
    hamming,
    hex_to_bits,
    pdq,
    pdq_dihedral,
)
from tests.images.scenes import scene

# pdq(scene(1)) when this test was written (pdqhash 0.2.8): the hash of a fixed picture must not move.
SCENE_1_HEX = "96c6e0bfd6b3a72096cbc489e14be3184ac4a94c5ad469b075e356bb56a99c72"


def jpeg(array: np.ndarray, quality: int = 70) -> np.ndarray:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(out.getvalue())).convert("RGB"))


def half(array: np.ndarray) -> np.ndarray:
    height, width = array.shape[:2]
    return np.asarray(Image.fromarray(array).resize((width // 2, height // 2), Image.Resampling.BILINEAR))


def watermark(array: np.ndarray) -> np.ndarray:
    """A 124x24 white box at 40% opacity near the bottom-right corner (a platform's logo or user name)."""
    out = array.astype(np.float32)
    out[-40:-16, -140:-16] = out[-40:-16, -140:-16] * 0.6 + 255 * 0.4
    return out.astype(np.uint8)


def test_hash_of_a_known_picture_is_stable():
    h = pdq(scene(1))
    assert h.hex == SCENE_1_HEX
    assert h.quality == 100
    assert pdq(scene(1)) == h


def test_hex_is_the_reference_bit_order():
    """ThreatExchange/HMA write the binding's 256 bits, first bit most significant, as 64 hex digits."""
    array = scene(2)
    vector, _ = pdqhash.compute(array)
    reference = format(int("".join(str(int(b)) for b in vector), 2), "064x")
    assert pdq(array).hex == reference


@pytest.mark.parametrize("transform", [jpeg, half, watermark], ids=["jpeg", "resize_half", "watermark"])
def test_copies_stay_within_the_match_distance(transform):
    for seed in range(8):
        original = scene(seed)
        assert pdq(transform(original)).distance(pdq(original)) <= MATCH_DISTANCE, seed


def test_mirrored_copy_matches_a_dihedral_variant():
    for seed in range(6):
        original = scene(seed)
        mirrored = pdq(original[:, ::-1])  # a non-contiguous view is accepted
        rotated = pdq(np.rot90(original))
        variants = pdq_dihedral(original)
        assert len(variants) == len(DIHEDRAL) == 8
        assert variants[0].bits == pdq(original).bits
        assert mirrored.distance(variants[0]) > MATCH_DISTANCE  # the plain hash misses it...
        assert min(v.distance(mirrored) for v in variants) <= MATCH_DISTANCE  # ...one of the variants finds it
        assert min(v.distance(rotated) for v in variants) <= MATCH_DISTANCE


def test_unrelated_pictures_are_far_apart():
    hashes = [pdq(scene(seed)) for seed in range(100, 130)]
    distances = [a.distance(b) for i, a in enumerate(hashes) for b in hashes[:i]]
    assert min(distances) > MATCH_DISTANCE


def test_flat_picture_has_a_low_quality_score():
    flat = pdq(np.full((300, 400, 3), (10, 200, 30), np.uint8))
    assert flat.quality < 50
    assert pdq(scene(3)).quality >= 80


def test_rgb_pil_image_hashes_like_its_array():
    array = scene(4)
    assert pdq(Image.fromarray(array)) == pdq(array)
    assert pdq_dihedral(Image.fromarray(array)) == pdq_dihedral(array)


@pytest.mark.parametrize(
    "image, message",
    [
        (Image.new("CMYK", (64, 64), (0, 255, 0, 0)), "mode CMYK"),
        (Image.new("RGBA", (64, 64)), "mode RGBA"),
        (Image.new("L", (64, 64)), "mode L"),
        (np.zeros((64, 64, 4), np.uint8), "shape"),
        (np.zeros((64, 64), np.uint8), "shape"),
        (np.zeros((64, 64, 3), np.float32), "uint8"),
        (np.zeros((64, 64, 3), np.int8), "uint8"),
        (np.zeros((0, 64, 3), np.uint8), "empty"),
        (b"\xff\xd8\xff", "RGB image"),
        ("photo.jpg", "RGB image"),
    ],
    ids=["cmyk", "rgba", "grey", "four_channels", "two_dims", "float", "signed", "empty", "bytes", "path"],
)
def test_anything_but_an_rgb_image_is_refused(image, message):
    with pytest.raises(ValueError, match=message):
        pdq(image)
    with pytest.raises(ValueError, match=message):
        pdq_dihedral(image)


def test_hex_round_trip():
    h = pdq(scene(5))
    assert len(h.hex) == 64
    assert PdqHash.from_hex(h.hex, h.quality) == h
    assert PdqHash.from_hex(h.hex.upper(), h.quality) == h
    assert hex_to_bits(bits_to_hex(h.bits)) == h.bits
    assert hamming(h.bits, h.bits) == 0
    flipped = bytes([h.bits[0] ^ 0b1000_0001]) + h.bits[1:]
    assert hamming(h.bits, flipped) == 2 == h.distance(PdqHash(flipped, 100))


@pytest.mark.parametrize("text", ["", "ab" * 31 + "a", "ab" * 33, "zz" * 32, "0x" + "ab" * 31, None, b"ab" * 32])
def test_bad_hex_is_refused(text):
    with pytest.raises(ValueError, match="64 hex digits"):
        hex_to_bits(text)


@pytest.mark.parametrize("bits", [b"", b"\x00" * 31, b"\x00" * 33])
def test_wrong_hash_length_is_refused(bits):
    with pytest.raises(ValueError, match="32 bytes"):
        PdqHash(bits, 100)
    with pytest.raises(ValueError, match="32 bytes"):
        bits_to_hex(bits)
    with pytest.raises(ValueError, match="32 bytes"):
        hamming(bits, b"\x00" * 32)
