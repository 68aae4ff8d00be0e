"""Safe decoding of untrusted images: Pillow only, hard limits checked before any pixel is allocated.

Pure module (no Django): the API, the importer and the admin pass the limits from settings
(`IMAGE_MAX_BYTES`, `IMAGE_MAX_PIXELS`, `IMAGE_MAX_FRAMES`) and map `ImageRejected.code` to a translated
400 message. Every refusal is an `ImageRejected`; nothing here opens a file path or a network connection.

Why each step: decompression bombs are refused from the header's size (Pillow only *warns* below 2 x 89 Mpx);
a hash or OCR of a sideways photo misses, so EXIF orientation is applied; hashes expect RGB, so CMYK, palette,
16-bit and alpha images are converted (alpha over white); animations give their first frame only, but their
frame count is limited so that counting cannot be abused either.
"""

import base64
import binascii
import io
import re
import struct
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP"})
# Pillow names a JPEG holding several pictures (phone cameras' MPO) after its container: it is a JPEG.
_FORMAT_FAMILY = {"MPO": "JPEG"}
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class ImageLimits:
    """Hard limits on one image; defaults are issue 12's (settings IMAGE_MAX_BYTES, _PIXELS, _FRAMES)."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_frames: int = 1000
    formats: frozenset[str] = field(default=ALLOWED_FORMATS)

    def __post_init__(self) -> None:
        if min(self.max_bytes, self.max_pixels, self.max_frames) < 1:
            raise ValueError("image limits must be positive")
        unknown = set(self.formats) - ALLOWED_FORMATS
        if unknown:
            raise ValueError(f"formats not supported by the safe decoder: {sorted(unknown)}")


class ImageRejected(ValueError):
    """An input that is not an acceptable image; `code` is stable (API error codes), `message` is English."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ImageRejected({self.code!r}, {self.message!r})"


@dataclass(frozen=True)
class DecodedImage:
    """The first frame as an upright RGB image, with what was done to get it."""

    image: Image.Image
    format: str
    original_size: tuple[int, int]  # (width, height) as stored, before EXIF rotation
    frames: int
    exif_transposed: bool
    converted_from: str | None  # the stored mode when it was not RGB ("CMYK", "P", "RGBA"…)
    reduced: bool = False  # decoded at a fraction of its stored size (`draft_side`)
    turned: bool = False  # the EXIF rotation swapped width and height

    @property
    def upright_size(self) -> tuple[int, int]:
        """(width, height) of the full-size picture once upright (EXIF rotation applied), however decoded."""
        width, height = self.original_size
        return (height, width) if self.turned else (width, height)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    def array(self) -> np.ndarray:
        """The pixels as a uint8 array of shape (height, width, 3)."""
        return np.asarray(self.image, dtype=np.uint8)


@dataclass(frozen=True)
class ImageFacts:
    """What `open_image` learnt: the format family, the stored size, the frame count, whether it was rotated."""

    format: str
    original_size: tuple[int, int]
    frames: int
    exif_transposed: bool
    reduced: bool = False  # decoded at a fraction of its size (JPEG's DCT scaling, `draft_side`)
    turned: bool = False  # the EXIF rotation swapped width and height


# Formats Pillow (or another tool) could read but this decoder refuses: named so the caller says "unsupported"
# rather than "not an image", without running those formats' parsers on untrusted bytes.
_OTHER_FORMATS: list[tuple[str, re.Pattern[bytes]]] = [
    ("TIFF", re.compile(rb"\A(II\*\x00|MM\x00\*|II\+\x00|MM\x00\+)")),
    ("ICO", re.compile(rb"\A\x00\x00[\x01\x02]\x00[\x01-\xff]\x00")),
    ("HEIF/AVIF", re.compile(rb"\A....ftyp(heic|heix|heim|heis|hevc|hevx|mif1|msf1|avif|avis)", re.S)),
    ("JPEG 2000", re.compile(rb"\A(\x00\x00\x00\x0cjP  \r\n\x87\n|\xff\x4f\xff\x51)")),
    ("JPEG XL", re.compile(rb"\A(\xff\x0a|\x00\x00\x00\x0cJXL \r\n\x87\n)")),
    ("PSD", re.compile(rb"\A8BPS")),
    ("PDF", re.compile(rb"\A%PDF-")),
    ("PostScript", re.compile(rb"\A%!PS")),
    ("SVG", re.compile(rb"\A(\xef\xbb\xbf)?\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<svg[\s>]", re.S | re.I)),
    ("PNM", re.compile(rb"\AP[1-7]\s")),
    ("DDS", re.compile(rb"\ADDS ")),
    ("QOI", re.compile(rb"\Aqoif")),
]
_URL = re.compile(r"\A\s*([a-z][a-z0-9+.\-]*://|//|www\.|[a-z0-9\-]+(\.[a-z0-9\-]+)+(:\d+)?/)", re.I)
_DATA_URL = re.compile(r"\A\s*data:", re.I)


def looks_like_a_url(text: str | bytes) -> bool:
    """True for `https://…`, `//host/…`, `www.…`, `example.org/…`: strings that must never be fetched."""
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text[:2048]).decode("latin-1")
    return bool(_URL.match(text[:2048]))


def decode_base64(text: str, *, max_bytes: int = ImageLimits.max_bytes) -> bytes:
    """The bytes of a plain base64 string (line breaks allowed); a `data:` URL, a URL or bad base64 is refused."""
    if not isinstance(text, str):
        raise ImageRejected("bad_base64", "The image must be a base64 string.")
    if not text.strip():
        raise ImageRejected("empty", "The image is empty.")
    if _DATA_URL.match(text):
        raise ImageRejected("data_url", "Send the file's plain base64, without a 'data:…;base64,' prefix.")
    if looks_like_a_url(text):
        raise ImageRejected("looks_like_a_url", "This is a link, not an image: send the file itself, in base64.")
    too_large = ImageRejected("too_large", f"The image is larger than {max_bytes:,} bytes.")
    max_encoded = 4 * -(-max_bytes // 3)
    if len(text) > 2 * max_encoded + 1024:  # even with a line break every 2 characters, too long
        raise too_large
    compact = "".join(text.split())
    if len(compact) > max_encoded:
        raise too_large
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageRejected("bad_base64", "The image is not valid base64.") from exc
    if not data:
        raise ImageRejected("empty", "The image is empty.")
    if len(data) > max_bytes:
        raise too_large
    return data


def open_image(
    data: bytes, *, limits: ImageLimits = ImageLimits(), draft_side: int | None = None
) -> tuple[Image.Image, ImageFacts]:
    """Check the bytes and header against the limits, then load the first frame upright, in its own mode.

    For callers that keep the mode (evidence re-encoding); hashing and OCR use `decode_image`.
    `draft_side`: a JPEG may be decoded at 1/2, 1/4 or 1/8 of its size (scaled in the DCT, several times
    faster), never so small that its long side falls under `draft_side`; other formats decode at full size.
    Every check above runs on the stored size first, whatever the reduction.
    """
    if draft_side is not None and draft_side < 1:
        raise ValueError("draft_side must be positive")
    if isinstance(data, str):  # a path or URL given to Pillow would be opened: never hand it a string
        if looks_like_a_url(data):
            raise ImageRejected("looks_like_a_url", "This is a link, not an image: send the file itself.")
        raise ImageRejected("not_an_image", "Expected the image file's bytes, not text.")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ImageRejected("not_an_image", "Expected the image file's bytes.")
    data = bytes(data)
    if not data:
        raise ImageRejected("empty", "The image is empty.")
    if len(data) > limits.max_bytes:
        raise ImageRejected("too_large", f"The image is larger than {limits.max_bytes:,} bytes.")
    too_many_pixels = ImageRejected("too_many_pixels", f"The image has more than {limits.max_pixels:,} pixels.")
    pillow_formats = sorted(limits.formats)  # a multi-picture JPEG (MPO) still opens under "JPEG"
    # Pillow warns about bombs below twice its own limit: an error here, whatever the global filters say.
    # (catch_warnings is process-wide; the explicit pixel check below refuses bombs whichever way it races.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's other warnings on odd files are noise for untrusted input
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=pillow_formats)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise too_many_pixels from exc
        except UnidentifiedImageError as exc:
            raise _unidentified(data, limits) from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            raise ImageRejected("truncated", "The image is damaged or truncated.") from exc
        try:
            return _load_first_frame(image, data, limits, too_many_pixels, draft_side)
        finally:
            image.close()


def _unidentified(data: bytes, limits: ImageLimits) -> ImageRejected:
    head = data[:4096]
    for name, signature in _OTHER_FORMATS:
        if signature.match(head):
            return _unsupported(name, limits)
    if looks_like_a_url(head):
        return ImageRejected("looks_like_a_url", "This is a link, not an image: send the file itself.")
    for fmt in ALLOWED_FORMATS - limits.formats:  # an allowed-by-us format this caller does not take
        if _SIGNATURES[fmt].match(head):
            return _unsupported(fmt, limits)
    return ImageRejected("not_an_image", "This file is not an image.")


_SIGNATURES = {
    "JPEG": re.compile(rb"\A\xff\xd8\xff"),
    "PNG": re.compile(rb"\A\x89PNG\r\n\x1a\n"),
    "GIF": re.compile(rb"\AGIF8[79]a"),
    "WEBP": re.compile(rb"\ARIFF....WEBP", re.S),
    "BMP": re.compile(rb"\ABM"),
}


def _unsupported(name: str, limits: ImageLimits) -> ImageRejected:
    allowed = ", ".join(sorted(limits.formats))
    return ImageRejected("unsupported_format", f"{name} images are not accepted (accepted: {allowed}).")


def _load_first_frame(
    image: Image.Image,
    data: bytes,
    limits: ImageLimits,
    too_many_pixels: ImageRejected,
    draft_side: int | None = None,
) -> tuple[Image.Image, ImageFacts]:
    fmt = _FORMAT_FAMILY.get(image.format or "", image.format or "")
    if fmt not in limits.formats:  # a JPEG-family container the caller did not ask for
        raise _unsupported(fmt, limits)
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageRejected("truncated", "The image is damaged or truncated.")
    if width * height > limits.max_pixels:
        raise too_many_pixels
    try:
        frames = _frame_count(image, data, limits.max_frames)
        if frames > limits.max_frames:
            raise ImageRejected("too_many_frames", f"The image has more than {limits.max_frames:,} frames.")
        image.seek(0)
        reduced = fmt == "JPEG" and draft_side is not None and _draft(image, draft_side)
        image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise too_many_pixels from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, MemoryError) as exc:
        raise ImageRejected("truncated", "The image is damaged or truncated.") from exc
    if image.width * image.height > limits.max_pixels:  # a GIF frame may widen the canvas while loading
        raise too_many_pixels
    method = _orientation_transpose(image)
    loaded: Image.Image = image.transpose(method) if method is not None else image.copy()
    return loaded, ImageFacts(fmt, (width, height), frames, method is not None, reduced, method in _TURNS)


_TURNS = frozenset(
    {Image.Transpose.TRANSPOSE, Image.Transpose.TRANSVERSE, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270}
)


def _draft(image: Image.Image, side: int) -> bool:
    """Ask the JPEG decoder for the smallest DCT scale that keeps the long side >= side; True if reduced."""
    width, height = image.size
    longest = max(width, height)
    if longest <= side:
        return False
    wanted = (max(1, -(-width * side // longest)), max(1, -(-height * side // longest)))
    image.draft(None, wanted)  # keep the mode: to_rgb converts CMYK and grey as for any image
    return image.size != (width, height)


def _frame_count(image: Image.Image, data: bytes, max_frames: int) -> int:
    """The frame count, or max_frames + 1 as soon as it is known to be more (no pixel decoded)."""
    if image.format == "GIF":
        return _gif_frames(data, stop_after=max_frames + 1)
    return int(getattr(image, "n_frames", 1))  # PNG (acTL), WebP (demuxer) and MPO headers say it


def _gif_frames(data: bytes, *, stop_after: int) -> int:
    """Count a GIF's image descriptors by skipping its blocks, stopping early (Pillow's count reads to the end)."""
    if len(data) < 13:
        return 1
    pos = 13
    if data[10] & 0x80:
        pos += 3 << ((data[10] & 7) + 1)
    frames = 0
    end = len(data)
    while pos < end and frames < stop_after:
        introducer = data[pos]
        if introducer == 0x2C:  # image descriptor, optional local colour table, LZW code size, data
            if pos + 10 > end:
                break
            packed = data[pos + 9]
            pos += 10 + ((3 << ((packed & 7) + 1)) if packed & 0x80 else 0) + 1
            frames += 1
        elif introducer == 0x21:  # extension: label, then data sub-blocks
            pos += 2
        else:  # trailer or garbage: the file ends here
            break
        chain = _GIF_SUB_BLOCKS.match(data, pos)
        if chain is None:  # truncated: Pillow's decoding of the first frame says so if it matters
            break
        pos = chain.end()
    return max(frames, 1)


# A chain of GIF data sub-blocks (a length byte, that many bytes) ended by a zero length, matched in C:
# a Python loop over a file made of 1-byte sub-blocks took 0.6 s per 10 MB, this takes under 0.1 s.
_GIF_SUB_BLOCKS = re.compile(
    b"(?:" + b"|".join(re.escape(bytes([n])) + b".{%d}" % n for n in range(1, 256)) + b")*+\x00", re.S
)


def _orientation_transpose(image: Image.Image) -> Image.Transpose | None:
    try:
        orientation = image.getexif().get(_ORIENTATION_TAG, 1)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, struct.error):
        return None  # unreadable EXIF: the picture itself is fine, shown as stored
    return {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation if isinstance(orientation, int) else 1)


def to_rgb(image: Image.Image, *, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """RGB pixels for hashing and OCR: transparency composited over `background`, 16-bit scaled to 8-bit."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode == "I":
        wide = np.asarray(image.convert("I") if mode != "I" else image, dtype=np.int64)
        peak = 65535 if mode.startswith("I;16") or wide.max(initial=0) > 255 else 255
        grey = np.clip(wide * 255 // peak, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if mode == "F":
        grey = np.clip(np.asarray(image, dtype=np.float64), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    has_alpha = mode in _ALPHA_MODES or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return image.convert("RGB")


def decode_image(data: bytes, *, limits: ImageLimits = ImageLimits(), draft_side: int | None = None) -> DecodedImage:
    """The first frame of untrusted image bytes, upright and RGB; any bad input raises `ImageRejected`.

    `draft_side`: see `open_image` (a JPEG decoded at reduced size, long side still >= draft_side)."""
    image, facts = open_image(data, limits=limits, draft_side=draft_side)
    rgb = to_rgb(image)
    return DecodedImage(
        image=rgb,
        format=facts.format,
        original_size=facts.original_size,
        frames=facts.frames,
        exif_transposed=facts.exif_transposed,
        converted_from=None if image.mode == "RGB" else image.mode,
        reduced=facts.reduced,
        turned=facts.turned,
    )


def downscale_for_hashing(image: Image.Image, *, max_side: int = 1024) -> Image.Image:
    """The image fitted within max_side x max_side (aspect kept, never enlarged), for fast hashing."""
    if max_side < 1:
        raise ValueError("max_side must be positive")
    if max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


__all__ = [
    "ALLOWED_FORMATS",
    "DecodedImage",
    "ImageFacts",
    "ImageLimits",
    "ImageRejected",
    "decode_base64",
    "decode_image",
    "downscale_for_hashing",
    "looks_like_a_url",
    "open_image",
    "to_rgb",
]
