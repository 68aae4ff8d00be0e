"""OCR of decoded images, offline: RapidOCR 3.10.0 on onnxruntime with the models its wheel ships.

Pure module (no Django). `ocr(image_array)` takes only what `decode.py` gives (`DecodedImage.array()`: uint8,
height x width x 3, RGB) and never bytes, a path or a string: RapidOCR's own loader opens paths and *fetches any
string that looks like a URL*, so nothing but an array ever reaches it.

Offline by construction: the engine is given the wheel's own det/cls/rec model files by path (with a model path
RapidOCR never downloads; the rec model carries its character list, so no dictionary is fetched either), and it
refuses to start when one of them is missing instead of letting RapidOCR download a replacement.

Long screenshots: RapidOCR scales every image so that its longest side is at most 2,000 px, so a 1080 x 18,000
screenshot comes out unreadable (92% character error measured in issue 12). Tall images are therefore cut into
overlapping tiles that RapidOCR sees at full resolution; each line is kept from the one tile whose own band
(the tile minus half the overlap on each side) holds its centre, so the overlap gives every line of text shorter
than the overlap one complete view and none twice. Very wide images are first scaled to `max_side` wide.

One engine per process and thread count, created on first use (about 1 s and a few hundred MB of models): it
runs in gunicorn and Celery worker processes, so onnxruntime's intra-op threads default to 1 per process.
"""

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Box = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]

# The model files the rapidocr==3.10.0 wheel ships in `rapidocr/models/` (PP-OCRv6 small det/rec).
MODEL_FILES = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
}


@dataclass(frozen=True)
class OcrConfig:
    """How images are fed to the engine. Defaults measured on 1080-px-wide Weibo/WeChat-like screenshots."""

    threads: int = 1  # onnxruntime intra-op threads of this process's engine
    max_side: int = 2000  # wider images are scaled down to this width first (RapidOCR's own limit)
    long_ratio: float = 3.0  # height / width above which an image is tiled
    long_height: int = 2000  # ... or height above which it is tiled
    tile_height: int = 1200  # px of the (scaled) image per tile, overlap included
    tile_overlap: int = 160  # px shared by two neighbouring tiles; lines taller than this may be cut
    min_score: float = 0.5  # lines recognised with a lower confidence are dropped
    # a "line" whose box is this many times wider per character than it is tall is a picture read as text
    # (a flat coloured block came out as "1", 1.7 wide per char, score 0.64); rendered posts measure 0.6 to 1.0
    max_char_aspect: float = 1.5

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError("threads must be at least 1")
        if self.max_side < 32 or self.long_height < 32:
            raise ValueError("max_side and long_height must be at least 32 px")
        if self.long_ratio <= 0:
            raise ValueError("long_ratio must be positive")
        if not 0 <= self.tile_overlap < self.tile_height // 2:
            raise ValueError("tile_overlap must be at least 0 and under half of tile_height")
        if not 0 <= self.min_score <= 1:
            raise ValueError("min_score must be between 0 and 1")
        if self.max_char_aspect <= 0:
            raise ValueError("max_char_aspect must be positive")


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: Box  # four (x, y) corners in the input image's pixels, clockwise from top-left
    score: float

    @property
    def top(self) -> float:
        return min(y for _, y in self.box)

    @property
    def bottom(self) -> float:
        return max(y for _, y in self.box)

    @property
    def left(self) -> float:
        return min(x for x, _ in self.box)

    @property
    def centre_y(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(frozen=True)
class OcrResult:
    text: str  # the lines in reading order, joined with newlines ("" when no text was found)
    lines: tuple[OcrLine, ...]
    seconds: float  # wall time of this call (engine creation excluded)
    tiles: int = 1


_engines: dict[int, Any] = {}
_engines_lock = threading.Lock()


def models_dir() -> Path:
    """The wheel's own model directory (where `MODEL_FILES` must be)."""
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


def engine_params(threads: int = 1) -> dict[str, Any]:
    """RapidOCR's parameters: the wheel's model files by path (nothing downloaded), onnxruntime on CPU."""
    from rapidocr import EngineType

    root = models_dir()
    params: dict[str, Any] = {
        "Global.model_root_dir": str(root),
        "Global.log_level": "error",  # not a warning per image without text
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        "EngineConfig.onnxruntime.use_cuda": False,
        "EngineConfig.onnxruntime.use_dml": False,
        "EngineConfig.onnxruntime.use_cann": False,
        "EngineConfig.onnxruntime.use_coreml": False,
    }
    for part, name in MODEL_FILES.items():
        path = root / name
        if not path.is_file():
            raise RuntimeError(f"OCR model {path} is missing; reinstall rapidocr==3.10.0 (nothing is downloaded)")
        params[f"{part}.engine_type"] = EngineType.ONNXRUNTIME
        params[f"{part}.model_path"] = str(path)
    return params


def get_engine(threads: int = 1) -> Any:
    """The process's RapidOCR engine for this thread count, created (and its three models loaded) once."""
    engine = _engines.get(threads)
    if engine is not None:
        return engine
    with _engines_lock:
        engine = _engines.get(threads)
        if engine is None:
            from rapidocr import RapidOCR

            engine = RapidOCR(params=engine_params(threads))
            # RapidOCR loads each model on first use; load them now, so that a worker's first request does not
            # pay for it and a missing character list shows here (it would otherwise try to download one).
            engine._load_det_model()
            engine._load_cls_model()
            rec = engine._load_rec_model()
            if not rec.session.have_key():
                raise RuntimeError("the OCR rec model carries no character list; refusing to download one")
            _engines[threads] = engine
    return engine


def check_array(image: Any) -> np.ndarray:
    """The image as a contiguous uint8 RGB array, or TypeError/ValueError (never a path, bytes or string)."""
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"ocr() takes a decoded uint8 RGB array (DecodedImage.array()), not {type(image).__name__}; "
            "bytes, paths and strings (which RapidOCR would open or fetch) are refused"
        )
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"ocr() takes a uint8 array of shape (height, width, 3), got {image.dtype} {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError("ocr() got an empty image")
    return image


def ocr(image: np.ndarray, *, config: OcrConfig = OcrConfig()) -> OcrResult:
    """The text of a decoded RGB image, lines top to bottom then left to right; tall images in tiles."""
    rgb = check_array(image)
    engine = get_engine(config.threads)
    started = time.perf_counter()
    height, width = rgb.shape[:2]
    scale = 1.0
    if width > config.max_side:
        scale = config.max_side / width
        rgb = _resize(rgb, config.max_side, max(1, round(height * scale)))
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # RapidOCR takes arrays as OpenCV's BGR
    lines: list[OcrLine] = []
    bands = tile_bands(bgr.shape[0], bgr.shape[1], config)
    for top, bottom, keep_from, keep_to in bands:
        for line in _run(engine, bgr[top:bottom], config):
            centre = line.centre_y + top
            if keep_from <= centre < keep_to:
                lines.append(_moved(line, dy=top, scale=scale))
    ordered = reading_order(lines)
    return OcrResult(
        text="\n".join(line.text for line in ordered),
        lines=tuple(ordered),
        seconds=time.perf_counter() - started,
        tiles=len(bands),
    )


def tile_bands(height: int, width: int, config: OcrConfig = OcrConfig()) -> list[tuple[int, int, int, int]]:
    """(top, bottom, keep_from, keep_to) of each tile: the rows it covers and the rows whose lines it keeps.

    The keep bands partition [0, height): each ends half-way through the overlap with the next tile.
    """
    if height <= config.long_height and height <= config.long_ratio * width:
        return [(0, height, 0, height)]
    step = config.tile_height - config.tile_overlap
    tops = [0]
    while tops[-1] + config.tile_height < height:
        tops.append(tops[-1] + step)
    # the last tile ends at the bottom of the image, never as a thin strip
    tops[-1] = max(0, min(tops[-1], height - config.tile_height))
    tops = sorted(set(tops))
    bands = []
    for i, top in enumerate(tops):
        bottom = min(height, top + config.tile_height)
        keep_from = 0 if i == 0 else bands[-1][3]
        keep_to = height if i == len(tops) - 1 else (tops[i + 1] + bottom) // 2
        bands.append((top, bottom, keep_from, keep_to))
    return bands


def reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Top to bottom, then left to right among lines sharing a row (centres within half a line's height)."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.centre_y, ln.left)):
        if rows:
            last = rows[-1][0]
            tolerance = min(last.bottom - last.top, line.bottom - line.top) / 2
            if line.centre_y - last.centre_y <= tolerance:
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda ln: ln.left)]


def _run(engine: Any, bgr: np.ndarray, config: OcrConfig) -> list[OcrLine]:
    out = engine(np.ascontiguousarray(bgr), text_score=config.min_score)
    boxes, txts, scores = out.boxes, out.txts, out.scores
    if boxes is None or txts is None:
        return []
    lines = []
    for box, text, score in zip(boxes, txts, scores, strict=True):
        text = str(text).strip()
        corners = tuple((float(x), float(y)) for x, y in np.asarray(box).reshape(4, 2))
        if text and float(score) >= config.min_score and _char_aspect(corners, text) <= config.max_char_aspect:
            lines.append(OcrLine(text=text, box=corners, score=float(score)))  # type: ignore[arg-type]
    return lines


def _char_aspect(corners: tuple[tuple[float, float], ...], text: str) -> float:
    """Width per character over height of a line's (possibly rotated) box."""
    (x0, y0), (x1, y1), (x2, y2) = corners[:3]
    width, height = float(np.hypot(x1 - x0, y1 - y0)), float(np.hypot(x2 - x1, y2 - y1))
    return width / len(text) / max(height, 1.0)


def _moved(line: OcrLine, *, dy: float, scale: float) -> OcrLine:
    box = tuple((x / scale, (y + dy) / scale) for x, y in line.box)
    return OcrLine(text=line.text, box=box, score=line.score)  # type: ignore[arg-type]


def _resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BOX), dtype=np.uint8)
