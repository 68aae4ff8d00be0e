"""Untrusted image bytes decode safely: every bad input of issue 12 is refused with its code, before pixels are
allocated where it matters; CMYK, palette, alpha, 16-bit and EXIF-rotated images come out upright and RGB."""

import base64
import io
import json
import os
import socket
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from debunk.images.decode import (
    ImageLimits,
    ImageRejected,
    decode_base64,
    decode_image,
    downscale_for_hashing,
    looks_like_a_url,
)

ROOT = Path(__file__).resolve().parents[2]
RED, BLUE, GREEN, WHITE = (255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 255)


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit grey PNG of width x height black pixels: kilobytes on disk, width x height in memory."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    compressor = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the row's bits
    rows_per_piece = max(1, 1_000_000 // len(row))
    idat = bytearray()
    for start in range(0, height, rows_per_piece):
        idat += compressor.compress(row * min(rows_per_piece, height - start))
    idat += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", bytes(idat)) + chunk(b"IEND", b"")


def gif_with_frames(frames: int, screen: tuple[int, int] = (1, 1)) -> bytes:
    """A GIF of `frames` 1x1 frames on a logical screen of `screen`: 15 bytes a frame."""
    head = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return head + frame * frames + b"\x3b"


def rejected(data, **kwargs) -> str:
    with pytest.raises(ImageRejected) as exc:
        decode_image(data, **kwargs)
    assert exc.value.message and str(exc.value) == exc.value.message
    return exc.value.code


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or resolve a name fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


# --- images that must decode correctly ---------------------------------------------------------------------


def test_plain_jpeg_decodes_to_rgb_with_its_facts():
    decoded = decode_image(encode(Image.new("RGB", (64, 48), RED), "JPEG", quality=95))
    assert (decoded.format, decoded.size, decoded.original_size, decoded.frames) == ("JPEG", (64, 48), (64, 48), 1)
    assert (decoded.exif_transposed, decoded.converted_from, decoded.image.mode) == (False, None, "RGB")
    pixels = decoded.array()
    assert pixels.shape == (48, 64, 3) and pixels.dtype == np.uint8
    assert np.abs(pixels.astype(int) - RED).max() <= 3


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "BMP", "GIF"])
def test_every_accepted_format_decodes(fmt):
    decoded = decode_image(encode(Image.new("RGB", (20, 10), BLUE), fmt))
    assert decoded.format == fmt and decoded.size == (20, 10)
    assert np.abs(decoded.array()[5, 10].astype(int) - BLUE).max() <= 8


def test_cmyk_jpeg_is_converted_to_the_right_rgb_colours():
    cmyk = Image.new("CMYK", (40, 20), (0, 255, 255, 0))  # red in CMYK
    cmyk.paste((255, 0, 255, 0), (20, 0, 40, 20))  # green on the right half
    data = encode(cmyk, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    decoded = decode_image(data)
    assert (decoded.image.mode, decoded.converted_from) == ("RGB", "CMYK")
    pixels = decoded.array().astype(int)
    assert np.abs(pixels[10, 5] - RED).max() <= 10
    assert np.abs(pixels[10, 35] - GREEN).max() <= 10


def test_exif_rotated_jpeg_comes_out_upright():
    upright = Image.new("RGB", (40, 60), RED)  # portrait: red top half, blue bottom half
    upright.paste(BLUE, (0, 30, 40, 60))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # how a phone held upright stores it (landscape)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    data = encode(stored, "JPEG", quality=95, exif=exif)
    decoded = decode_image(data)
    assert decoded.exif_transposed is True
    assert (decoded.original_size, decoded.size) == ((60, 40), (40, 60))
    pixels = decoded.array().astype(int)
    assert np.abs(pixels[5, 20] - RED).max() <= 10  # top is red
    assert np.abs(pixels[55, 20] - BLUE).max() <= 10  # bottom is blue
    without = decode_image(encode(stored, "JPEG", quality=95))  # the same pixels without the tag stay as stored
    assert without.exif_transposed is False and without.size == (60, 40)


def test_palette_png_with_transparency_becomes_rgb_over_white():
    image = Image.new("P", (10, 10), 0)
    image.putpalette([*RED, *BLUE] + [0] * 762)
    image.paste(1, (5, 0, 10, 10))
    data = encode(image, "PNG", transparency=0)  # palette index 0 (red) is transparent
    decoded = decode_image(data)
    assert (decoded.image.mode, decoded.converted_from) == ("RGB", "P")
    assert tuple(decoded.array()[5, 2]) == WHITE
    assert tuple(decoded.array()[5, 7]) == BLUE


def test_rgba_png_is_composited_over_white():
    image = Image.new("RGBA", (10, 10), (0, 0, 255, 0))
    image.paste((255, 0, 0, 128), (5, 0, 10, 10))
    decoded = decode_image(encode(image, "PNG"))
    assert tuple(decoded.array()[0, 0]) == WHITE
    assert np.abs(decoded.array()[0, 7].astype(int) - (255, 127, 127)).max() <= 2


def test_sixteen_bit_grey_png_is_scaled_not_clipped():
    decoded = decode_image(encode(Image.new("I;16", (4, 4), 40000), "PNG"))
    assert tuple(decoded.array()[0, 0]) == (155, 155, 155)  # 40000 / 65535 of white, not saturated


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, GREEN, BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    decoded = decode_image(data)
    assert decoded.frames == 3
    assert np.abs(decoded.array()[8, 8].astype(int) - RED).max() <= 8


def test_animated_png_and_webp_give_their_first_frame():
    frames = [Image.new("RGB", (16, 16), colour) for colour in (GREEN, BLUE)]
    for fmt in ("PNG", "WEBP"):
        data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, lossless=True)
        decoded = decode_image(data)
        assert (decoded.format, decoded.frames) == (fmt, 2)
        assert np.abs(decoded.array()[8, 8].astype(int) - GREEN).max() <= 8


# --- bad inputs of issue 12: each refused with its code -----------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        "官方通报：该消息不实。".encode(),
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(range(256)) * 4,  # a Windows executable
        b"\x00" * 1000,
    ],
    ids=["text", "executable", "zeros"],
)
def test_not_an_image_is_refused(payload):
    assert rejected(payload) == "not_an_image"


def test_truncated_jpeg_and_png_are_refused():
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (200, 200, 3), dtype=np.uint8))
    jpeg, png = encode(noise, "JPEG", quality=90), encode(noise, "PNG")
    assert rejected(jpeg[: len(jpeg) // 2]) == "truncated"
    assert rejected(png[: len(png) // 2]) == "truncated"
    assert rejected(jpeg[:400]) == "truncated"  # a real header and nothing else


def test_empty_upload_is_refused():
    assert rejected(b"") == "empty"


def test_more_than_10_mb_is_refused_before_being_parsed():
    big = b"\xff\xd8\xff" + bytes(10 * 1024 * 1024)  # looks like a JPEG, one too many bytes... and more
    assert rejected(big) == "too_large"
    small = encode(Image.new("RGB", (8, 8)), "PNG")
    assert decode_image(small, limits=ImageLimits(max_bytes=len(small))).size == (8, 8)  # the limit itself is fine
    assert rejected(small, limits=ImageLimits(max_bytes=len(small) - 1)) == "too_large"


def test_more_than_40_megapixels_is_refused():
    data = png_bomb(8000, 5001)  # 40,008,000 pixels
    assert len(data) < 100_000
    assert rejected(data) == "too_many_pixels"
    exact = png_bomb(10, 10)
    assert decode_image(exact, limits=ImageLimits(max_pixels=100)).size == (10, 10)
    assert rejected(png_bomb(10, 11), limits=ImageLimits(max_pixels=100)) == "too_many_pixels"


@pytest.mark.parametrize("side", [7000, 12000, 30000])  # under Pillow's warning, between warning and error, over
def test_decompression_bomb_is_refused_before_pixels_are_allocated(side, tmp_path):
    if not Path("/proc/self/status").exists():
        pytest.skip("peak memory is read from /proc/self/status (Linux only)")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(side, side))
    assert bomb.stat().st_size < 1_000_000
    probe = (
        "import json, sys, warnings\n"
        "warnings.simplefilter('ignore')  # even a process that ignores warnings refuses bombs\n"
        "from debunk.images.decode import decode_image, ImageRejected\n"
        "def peak_kb():  # this process's peak RSS (ru_maxrss would carry the forking pytest's peak over exec)\n"
        "    status = open('/proc/self/status').read()\n"
        "    return int(status.split('VmHWM:')[1].split()[0])\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "before = peak_kb()\n"
        "try:\n"
        "    decode_image(data)\n"
        "    code = None\n"
        "except ImageRejected as exc:\n"
        "    code = exc.code\n"
        "print(json.dumps({'code': code, 'grew_kb': peak_kb() - before}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(bomb)], cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["code"] == "too_many_pixels"
    assert result["grew_kb"] < 20_000, result  # decoding 7000 x 7000 alone would take 49 MB (147 MB as RGB)


def test_bomb_refusal_leaves_pillow_globals_and_warning_filters_alone():
    limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    assert rejected(png_bomb(12000, 12000)) == "too_many_pixels"
    assert limit == Image.MAX_IMAGE_PIXELS
    assert filters == warnings.filters


@pytest.mark.parametrize(
    "fmt, params",
    [("TIFF", {}), ("ICO", {"sizes": [(32, 32)]}), ("PPM", {}), ("JPEG2000", {})],
)
def test_unsupported_formats_are_named_and_refused(fmt, params):
    try:
        data = encode(Image.new("RGB", (32, 32), RED), fmt, **params)
    except (KeyError, OSError) as exc:  # JPEG 2000 needs OpenJPEG in the Pillow build
        pytest.skip(f"this Pillow cannot write {fmt}: {exc}")
    with pytest.raises(ImageRejected) as exc:
        decode_image(data)
    assert exc.value.code == "unsupported_format"
    assert "JPEG" in exc.value.message  # the message lists what is accepted


def test_a_format_the_caller_did_not_allow_is_unsupported():
    bmp = encode(Image.new("RGB", (8, 8)), "BMP")
    assert rejected(bmp, limits=ImageLimits(formats=frozenset({"JPEG", "PNG"}))) == "unsupported_format"
    with pytest.raises(ValueError):
        ImageLimits(formats=frozenset({"TIFF"}))
    with pytest.raises(ValueError):
        ImageLimits(max_pixels=0)


def test_animated_gif_bombs_are_refused():
    many = gif_with_frames(200_000)  # 3 MB of 1x1 frames
    assert len(many) < 10 * 1024 * 1024
    assert rejected(many) == "too_many_frames"
    assert decode_image(gif_with_frames(1000)).frames == 1000  # the limit itself is fine
    assert rejected(gif_with_frames(3, screen=(65535, 65535))) == "too_many_pixels"  # a huge logical screen
    assert rejected(gif_with_frames(3, screen=(8000, 5001))) == "too_many_pixels"


def test_gif_frames_are_counted_through_long_chains_of_tiny_sub_blocks():
    one = gif_with_frames(1)
    frame_data = b"\x02" + b"\x01\x00" * 100_000 + b"\x00"  # 1-byte sub-blocks: the slowest case to skip
    data = one[:-6] + frame_data + (one[19:-1] * 2) + b"\x3b"  # ...then two ordinary frames
    assert decode_image(data).frames == 3
    assert rejected(data, limits=ImageLimits(max_frames=2)) == "too_many_frames"


def test_text_given_instead_of_bytes_is_never_opened(no_network, tmp_path):
    path = tmp_path / "real.png"
    path.write_bytes(encode(Image.new("RGB", (8, 8)), "PNG"))
    assert rejected(str(path)) == "not_an_image"  # Pillow would open a path
    assert rejected("https://example.org/x.jpg") == "looks_like_a_url"
    assert rejected(b"https://example.org/x.jpg") == "looks_like_a_url"
    assert rejected(12345) == "not_an_image"


# --- base64 --------------------------------------------------------------------------------------------------


def test_plain_base64_decodes_even_with_line_breaks():
    data = encode(Image.new("RGB", (30, 30), GREEN), "PNG")
    wrapped = base64.encodebytes(data).decode()  # MIME style, a line break every 76 characters
    assert "\n" in wrapped
    assert decode_base64(wrapped, max_bytes=len(data)) == data
    assert decode_image(decode_base64(base64.b64encode(data).decode())).size == (30, 30)


@pytest.mark.parametrize(
    "text, code",
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("not base64 at all!", "bad_base64"),
        ("iVBORw0KGgo", "bad_base64"),  # missing padding
        ("图片数据", "bad_base64"),
        ("iVBO-w0K_go=", "bad_base64"),  # URL-safe alphabet
        ("data:image/png;base64,iVBORw0KGgo=", "data_url"),
        (" DATA:image/jpeg;base64,/9j/4AAQ", "data_url"),
        ("https://example.org/x.jpg", "looks_like_a_url"),
        ("http://127.0.0.1:8000/admin/", "looks_like_a_url"),
        ("//cdn.example.org/x.png", "looks_like_a_url"),
        ("www.example.org/x.png", "looks_like_a_url"),
        ("example.org/x.jpg", "looks_like_a_url"),
        ("file:///etc/passwd", "looks_like_a_url"),
    ],
)
def test_bad_base64_is_refused_clearly_and_no_url_is_fetched(text, code, no_network):
    with pytest.raises(ImageRejected) as exc:
        decode_base64(text)
    assert exc.value.code == code


def test_base64_too_large_is_refused_before_decoding():
    assert decode_base64(base64.b64encode(b"x" * 30).decode(), max_bytes=30) == b"x" * 30
    with pytest.raises(ImageRejected) as exc:
        decode_base64(base64.b64encode(b"x" * 31).decode(), max_bytes=30)
    assert exc.value.code == "too_large"
    with pytest.raises(ImageRejected) as exc:
        decode_base64("A" * (15 * 1024 * 1024))  # 15 MB of base64: over 10 MB once decoded
    assert exc.value.code == "too_large"
    with pytest.raises(ImageRejected) as exc:
        decode_base64(None)  # a JSON null or number is not an image
    assert exc.value.code == "bad_base64"


def test_plain_base64_is_not_mistaken_for_a_url():
    for size in (1, 2, 3, 100, 1000):
        text = base64.b64encode(os.urandom(size)).decode()
        assert not looks_like_a_url(text)


# --- downscaling and purity ----------------------------------------------------------------------------------


def test_downscale_for_hashing_fits_long_side_and_never_enlarges():
    wide = Image.new("RGB", (4000, 1000), RED)
    small = downscale_for_hashing(wide, max_side=1024)
    assert small.size == (1024, 256) and small.mode == "RGB"
    tall = downscale_for_hashing(Image.new("RGB", (1080, 18000)), max_side=512)
    assert tall.size == (31, 512)
    little = Image.new("RGB", (300, 200))
    assert downscale_for_hashing(little, max_side=1024) is little
    with pytest.raises(ValueError):
        downscale_for_hashing(little, max_side=0)


def test_decoder_is_pure_it_imports_no_django_and_no_network_library():
    probe = "import debunk.images.decode, json, sys; print(json.dumps(sorted(sys.modules)))"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout.splitlines()[-1])
    forbidden = ("django", "rest_framework", "redis", "celery", "requests", "urllib3", "httpx", "debunk.bench")
    assert [m for m in loaded if m.split(".")[0] in forbidden or m.startswith("debunk.bench")] == []
