"""OCR of rendered Chinese screenshots, offline: the whole module runs with outbound sockets refused."""

import io
import itertools
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from debunk.bench.ocr import CLAIMS, cer, cjk_font_path, long_article, weibo_post
from debunk.images import ocr as ocr_mod
from debunk.images.ocr import OcrConfig, OcrLine, ocr, reading_order, tile_bands

needs_font = pytest.mark.skipif(
    cjk_font_path() is None, reason="no CJK font to render screenshots: install Debian's fonts-noto-cjk"
)


class NetworkBlocked(OSError):
    pass


@pytest.fixture(scope="module", autouse=True)
def no_network():
    """Every outbound connection of this module (engine creation included) is refused and recorded."""
    attempts: list[tuple] = []

    class GuardSocket(socket.socket):
        def connect(self, address):  # type: ignore[override]
            attempts.append(address)
            raise NetworkBlocked(f"network blocked in OCR tests: {address}")

        def connect_ex(self, address):  # type: ignore[override]
            attempts.append(address)
            raise NetworkBlocked(f"network blocked in OCR tests: {address}")

    def guarded_create_connection(address, *args, **kwargs):
        attempts.append(address)
        raise NetworkBlocked(f"network blocked in OCR tests: {address}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "socket", GuardSocket)
        mp.setattr(socket, "create_connection", guarded_create_connection)
        yield attempts


@pytest.fixture(scope="module")
def engine(no_network):
    """One engine for the module, created with the network unreachable."""
    created = ocr_mod.get_engine(1)
    assert no_network == []
    return created


# --- the engine: offline, the wheel's models, one thread ---------------------------------------------------------


def test_engine_uses_the_wheels_own_models_and_one_thread(engine, no_network):
    params = ocr_mod.engine_params(1)
    models = ocr_mod.models_dir()
    for part in ("Det", "Cls", "Rec"):
        path = Path(params[f"{part}.model_path"])
        assert path.parent == models and path.is_file()
    assert ocr_mod.get_engine(1) is engine
    assert engine.cfg.Det.model_path == params["Det.model_path"]
    assert engine.cfg.Rec.model_path == params["Rec.model_path"]
    assert engine.text_rec.session.have_key()  # character list inside the model: no dictionary download
    options = engine.text_det.session.session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert no_network == []


def test_the_network_guard_catches_what_rapidocr_would_fetch(engine, no_network):
    """Proves the guard: RapidOCR itself, given a URL string, tries to fetch it (ocr() never lets it)."""
    before = len(no_network)
    with pytest.raises(Exception):  # noqa: B017 - requests wraps the refusal in its own ConnectionError
        engine("http://192.0.2.1/rumor.png")
    assert len(no_network) > before
    del no_network[before:]


@needs_font
@pytest.mark.parametrize(
    "make",
    [
        lambda: "http://192.0.2.1/rumor.png",
        lambda: "/tmp/rumor.png",
        lambda: Path("/tmp/rumor.png"),
        lambda: _png(weibo_post(0).pixels),
        lambda: Image.fromarray(weibo_post(0).pixels),
        lambda: weibo_post(0).pixels.tolist(),
        lambda: None,
    ],
    ids=["url", "path-str", "path", "bytes", "pil", "list", "none"],
)
def test_anything_but_an_array_is_a_type_error_and_nothing_is_fetched(engine, no_network, make):
    with pytest.raises(TypeError, match="decoded uint8 RGB array"):
        ocr(make())
    assert no_network == []


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((50, 50, 3), dtype=np.float32),
        np.zeros((50, 50), dtype=np.uint8),
        np.zeros((50, 50, 4), dtype=np.uint8),
        np.zeros((0, 50, 3), dtype=np.uint8),
        np.zeros((50, 0, 3), dtype=np.uint8),
    ],
    ids=["float", "grey", "rgba", "no-rows", "no-columns"],
)
def test_wrong_arrays_are_value_errors(array):
    with pytest.raises(ValueError):
        ocr(array)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threads": 0},
        {"max_side": 10},
        {"long_ratio": 0},
        {"tile_overlap": 700},
        {"tile_overlap": -1},
        {"min_score": 1.5},
        {"max_char_aspect": 0},
    ],
)
def test_bad_config_is_a_value_error(kwargs):
    with pytest.raises(ValueError):
        OcrConfig(**kwargs)


# --- recognition ---------------------------------------------------------------------------------------------------


@needs_font
@pytest.mark.parametrize("seed", [0, 3])
def test_weibo_post_is_read_with_under_5_percent_character_error(engine, no_network, seed):
    shot = weibo_post(seed)
    result = ocr(shot.pixels)
    error = cer("\n".join(shot.lines), result.text)
    assert error <= 0.05, (error, result.text)
    # the claim itself, alone, also reads within 5%, and in reading order: name, claim, counters
    claim_lines = [line for line in result.lines if line.top >= 190 and line.bottom <= shot.pixels.shape[0] - 100]
    assert cer(CLAIMS[seed % len(CLAIMS)], "".join(line.text for line in claim_lines)) <= 0.05
    texts = result.text.split("\n")
    assert texts == [line.text for line in result.lines]
    assert any(cer(shot.lines[0], text) <= 0.2 for text in texts[:2])  # the name comes first (after the avatar)
    assert "转发" in texts[-1]
    assert result.tiles == 1 and result.seconds > 0
    assert all(0.5 <= line.score <= 1 for line in result.lines)
    assert no_network == []


@needs_font
def test_long_screenshot_is_read_in_tiles_without_duplicated_seam_lines(engine, no_network):
    shot = long_article(1, height=6000)
    result = ocr(shot.pixels)
    assert result.tiles >= 5
    error = cer("\n".join(shot.lines), result.text)
    assert error <= 0.05, error
    # one recognised line per drawn line: a line cut by a seam is neither lost nor read twice
    assert len(result.lines) == len(shot.lines)
    for drawn, line in zip(shot.lines, result.lines, strict=True):
        assert cer(drawn, line.text) <= 0.2, (drawn, line.text)
    # boxes are in the whole image's pixels, strictly going down the page
    tops = [line.top for line in result.lines]
    assert tops == sorted(tops) and tops[-1] > 5000
    for upper, lower in zip(result.lines, result.lines[1:], strict=False):
        assert lower.top > upper.top + (upper.bottom - upper.top) / 2
    assert no_network == []


@needs_font
def test_very_wide_image_is_scaled_and_boxes_come_back_in_its_pixels(engine, no_network):
    shot = weibo_post(2)
    wide = np.asarray(Image.fromarray(shot.pixels).resize((3000, round(shot.pixels.shape[0] * 3000 / 1080))))
    result = ocr(wide, config=OcrConfig(max_side=1500))
    assert cer("\n".join(shot.lines), result.text) <= 0.05
    right = max(x for line in result.lines for x, _ in line.box)
    assert 2000 < right <= 3000


def test_image_without_text_gives_empty_text(engine, no_network):
    rng = np.random.default_rng(5)
    blank = np.full((900, 1080, 3), 250, dtype=np.uint8)
    blank[300:600, 200:800] = (60, 140, 200)  # a flat shape, no glyphs
    smooth = np.linspace(0, 255, 1080, dtype=np.uint8)[None, :, None].repeat(400, 0).repeat(3, 2)
    for image in (blank, smooth, rng.integers(120, 136, (300, 300, 3), dtype=np.uint8)):
        result = ocr(image)
        assert result.text == "" and result.lines == ()
    assert no_network == []


# --- tiles and reading order (no engine) ---------------------------------------------------------------------------


def test_short_images_are_one_tile():
    assert tile_bands(1920, 1080) == [(0, 1920, 0, 1920)]
    assert tile_bands(2000, 1080) == [(0, 2000, 0, 2000)]


@pytest.mark.parametrize("height, width", [(2001, 1080), (18_000, 1080), (1000, 300), (2500, 2000), (1299, 400)])
def test_tall_images_are_cut_into_overlapping_tiles_whose_keep_bands_partition_the_image(height, width):
    config = OcrConfig()
    bands = tile_bands(height, width, config)
    assert len(bands) >= 2 or height <= config.tile_height
    assert bands[0][0] == 0 and bands[0][2] == 0
    assert bands[-1][1] == height and bands[-1][3] == height
    for top, bottom, keep_from, keep_to in bands:
        assert bottom - top <= config.tile_height
        assert top <= keep_from < keep_to <= bottom
    for (_, bottom, _, keep_to), (top, _, keep_from, _) in itertools.pairwise(bands):
        assert keep_to == keep_from
        assert bottom - top >= config.tile_overlap  # a line shorter than the overlap is whole in the keeping tile
        assert keep_to - top >= config.tile_overlap // 2 and bottom - keep_to >= config.tile_overlap // 2


def _line(text: str, x: float, y: float, h: float = 40, w: float = 200) -> OcrLine:
    return OcrLine(text=text, box=((x, y), (x + w, y), (x + w, y + h), (x, y + h)), score=0.9)


def test_reading_order_is_top_to_bottom_then_left_to_right():
    lines = [
        _line("right", 600, 104),
        _line("below", 40, 200),
        _line("left", 40, 100),
        _line("middle", 320, 96),
        _line("first", 40, 10),
    ]
    assert [line.text for line in reading_order(lines)] == ["first", "left", "middle", "right", "below"]


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()
