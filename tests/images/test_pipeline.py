"""The fingerprint pipeline: the same checks as the safe decoder, JPEGs decoded at reduced size whose hashes stay
close to the full-size ones, copies (JPEG, resize, watermark) within the match distance, EXIF and CMYK handled."""

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from debunk.images.decode import ImageLimits, ImageRejected, decode_image
from debunk.images.hashing import DIHEDRAL, MATCH_DISTANCE, pdq, pdq_dihedral
from debunk.images.pipeline import ALGORITHM, HASH_SIDE, dihedral_from_bits, fingerprint_image
from tests.images.scenes import scene

# The pipeline's hashes stay this close to PDQ of the full-size decoded picture (measured: at most 8 bits over
# the benchmark's 1024x768 pictures); far under MATCH_DISTANCE, so stored and queried copies still meet.
NEAR_FULL_SIZE = 12


def encode(array: np.ndarray | Image.Image, fmt: str = "JPEG", **params) -> bytes:
    image = Image.fromarray(array) if isinstance(array, np.ndarray) else array
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def full_size_pdq(data: bytes):
    with Image.open(io.BytesIO(data)) as image:
        return pdq(image.convert("RGB"))


def test_print_has_hashes_size_format_and_sha256():
    data = encode(scene(3, 1024, 768), quality=85)
    fp = fingerprint_image(data)
    assert (fp.width, fp.height, fp.format, fp.algorithm) == (1024, 768, "JPEG", ALGORITHM)
    assert fp.sha256 == hashlib.sha256(data).hexdigest()
    assert len(fp.dihedral) == len(DIHEDRAL) == 8 and fp.dihedral[0] == fp.pdq
    assert fp.quality == fp.pdq.quality and fp.quality >= 50
    assert len({h.bits for h in fp.dihedral}) == 8  # a picture without symmetry: 8 different hashes
    assert dihedral_from_bits(fp.dihedral_bits(), fp.quality) == fp.dihedral
    with pytest.raises(ValueError):
        dihedral_from_bits(fp.dihedral_bits()[:-1], 100)


def test_large_jpeg_is_decoded_at_reduced_size_and_hashed_at_most_512_px():
    data = encode(scene(4, 2048, 1536), quality=85)
    decoded = decode_image(data, draft_side=HASH_SIDE)
    assert decoded.reduced is True and decoded.size == (512, 384)  # DCT scale 1/4, long side kept >= 512
    assert decoded.upright_size == (2048, 1536)
    assert decode_image(data).size == (2048, 1536)  # without the option: full size, as before
    fp = fingerprint_image(data)
    assert (fp.width, fp.height) == (2048, 1536)  # the stored picture's size, not the hashed one's


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "BMP"])
def test_other_formats_decode_at_full_size_then_downscale(fmt):
    array = scene(5, 900, 600)
    data = encode(array, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    assert decode_image(data, draft_side=HASH_SIDE).reduced is False
    fp = fingerprint_image(data)
    assert (fp.width, fp.height, fp.format) == (900, 600, fmt)
    assert fp.pdq.distance(pdq(array)) <= NEAR_FULL_SIZE


def test_pipeline_hashes_stay_near_full_size_hashes_of_1024x768_jpegs():
    distances = []
    for seed in range(15):
        data = encode(scene(seed, 1024, 768), quality=85)
        fp = fingerprint_image(data)
        distances.append(fp.pdq.distance(full_size_pdq(data)))
        full_dihedral = pdq_dihedral(Image.open(io.BytesIO(data)).convert("RGB"))
        assert max(a.distance(b) for a, b in zip(fp.dihedral, full_dihedral, strict=True)) <= NEAR_FULL_SIZE
    assert max(distances) <= NEAR_FULL_SIZE, distances


def _jpeg_again(data: bytes) -> bytes:
    return encode(Image.open(io.BytesIO(data)).convert("RGB"), quality=60)


def _half(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return encode(image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR), quality=90)


def _watermark(data: bytes) -> bytes:
    array = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.float32)
    array[-60:-20, -260:-20] = array[-60:-20, -260:-20] * 0.6 + 255 * 0.4
    return encode(array.astype(np.uint8), quality=90)


def _mirror(data: bytes) -> bytes:
    return encode(Image.open(io.BytesIO(data)).transpose(Image.Transpose.FLIP_LEFT_RIGHT), quality=90)


@pytest.mark.parametrize("variant", [_jpeg_again, _half, _watermark], ids=["jpeg_q60", "resize_half", "watermark"])
def test_copies_match_the_stored_print_within_the_match_distance(variant):
    for seed in range(10):
        stored = fingerprint_image(encode(scene(seed, 1024, 768), quality=85))
        query = fingerprint_image(variant(encode(scene(seed, 1024, 768), quality=85)))
        assert stored.pdq.distance(query.pdq) <= MATCH_DISTANCE, seed


def test_a_mirrored_copy_meets_one_of_the_stored_dihedral_hashes():
    data = encode(scene(7, 1024, 768), quality=85)
    stored, query = fingerprint_image(data), fingerprint_image(_mirror(data))
    assert stored.pdq.distance(query.pdq) > MATCH_DISTANCE  # the plain hash misses a mirror...
    assert min(h.distance(query.pdq) for h in stored.dihedral) <= MATCH_DISTANCE  # ...a variant finds it


def test_unrelated_pictures_stay_far_apart():
    prints = [fingerprint_image(encode(scene(seed, 1024, 768), quality=85)) for seed in range(100, 112)]
    for i, a in enumerate(prints):
        for b in prints[i + 1 :]:
            assert a.pdq.distance(b.pdq) > MATCH_DISTANCE


def test_exif_rotated_photo_hashes_as_its_upright_picture():
    upright = scene(8, 768, 1024)  # portrait
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # a phone stores it landscape
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = fingerprint_image(encode(stored, quality=90, exif=exif))
    plain = fingerprint_image(encode(upright, quality=90))
    assert (rotated.width, rotated.height) == (768, 1024)
    assert rotated.pdq.distance(plain.pdq) <= MATCH_DISTANCE


def test_cmyk_jpeg_hashes_as_its_rgb_picture():
    rgb = Image.fromarray(scene(9, 1024, 768))
    cmyk_print = fingerprint_image(encode(rgb.convert("CMYK"), quality=95))
    rgb_print = fingerprint_image(encode(rgb, quality=95))
    assert cmyk_print.pdq.distance(rgb_print.pdq) <= MATCH_DISTANCE


@pytest.mark.parametrize(
    "data, code",
    [
        (b"", "empty"),
        (b"hello, this is not an image", "not_an_image"),
        ("https://example.org/a.jpg", "looks_like_a_url"),
    ],
)
def test_bad_input_is_refused_by_the_safe_decoder(data, code):
    with pytest.raises(ImageRejected) as exc:
        fingerprint_image(data)
    assert exc.value.code == code


def test_truncated_jpeg_and_limits_are_still_enforced_with_reduced_decoding():
    data = encode(Image.fromarray(np.random.default_rng(1).integers(0, 256, (800, 800, 3), dtype=np.uint8)))
    with pytest.raises(ImageRejected) as exc:
        fingerprint_image(data[: len(data) // 2])
    assert exc.value.code == "truncated"
    with pytest.raises(ImageRejected) as exc:  # pixel limit judged on the stored size, not the reduced one
        fingerprint_image(data, limits=ImageLimits(max_pixels=800 * 800 - 1))
    assert exc.value.code == "too_many_pixels"
    with pytest.raises(ValueError):
        decode_image(data, draft_side=0)
