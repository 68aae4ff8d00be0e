"""The decision's two paths (pure): hash hits against the image index, OCR text hits against the text index."""

import io

import numpy as np
import pytest
from PIL import Image

from debunk.bench.ocr import CLAIMS
from debunk.images import decision
from debunk.images.hashing import MATCH_DISTANCE
from debunk.images.index import ImageHashIndex
from debunk.images.pipeline import fingerprint_image
from debunk.matching.fingerprint import fingerprint
from debunk.matching.index import Entry, MatchIndex
from debunk.matching.normalize import normalize_text
from tests.images.scenes import scene


def _jpeg(pixels: np.ndarray, quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="module")
def hash_index() -> ImageHashIndex:
    """Rumors 10, 11, 12: three scenes; rumor 13: a flat picture (PDQ quality 0)."""
    prints = [(10 + k, fingerprint_image(_jpeg(scene(k)))) for k in range(3)]
    prints.append((13, fingerprint_image(_jpeg(np.full((300, 400, 3), (200, 40, 40), np.uint8)))))
    hashes, ids = decision.stock_rows(prints)
    return ImageHashIndex.build(hashes, ids)


def test_stock_rows_hold_the_eight_dihedral_hashes_of_each_picture_under_its_rumor():
    a, b = fingerprint_image(_jpeg(scene(0))), fingerprint_image(_jpeg(scene(1)))
    hashes, ids = decision.stock_rows([(7, a), (9, b)])
    assert hashes.shape == (16, 4) and hashes.dtype == np.uint64
    assert ids.tolist() == [7] * 8 + [9] * 8
    assert hashes[0].astype(">u8").tobytes() == a.pdq.bits
    assert hashes[13].astype(">u8").tobytes() == b.dihedral[5].bits
    empty_hashes, empty_ids = decision.stock_rows([])
    assert empty_hashes.shape == (0, 4) and empty_ids.shape == (0,)


def test_a_recompressed_copy_is_found_nearest_first_one_row_per_rumor(hash_index):
    query = fingerprint_image(_jpeg(scene(1), quality=40))
    hits = decision.hash_hits(hash_index, query)
    assert hits[0][0] == 11 and hits[0][1] <= 8
    assert [r for r, _ in hits].count(11) == 1
    assert all(d <= decision.HASH_REVIEW for _, d in hits)
    assert hits == sorted(hits, key=lambda h: (h[1], h[0]))
    assert decision.hash_hits(hash_index, query.pdq) == hits  # a bare PdqHash is a query too


def test_a_mirrored_copy_is_found_through_the_stored_dihedral_hashes(hash_index):
    mirrored = np.ascontiguousarray(scene(2)[:, ::-1])
    query = fingerprint_image(_jpeg(mirrored))
    assert query.pdq.distance(fingerprint_image(_jpeg(scene(2))).pdq) > decision.HASH_REVIEW  # not by its own hash
    assert decision.hash_hits(hash_index, query, MATCH_DISTANCE)[0][0] == 12


def test_an_unrelated_picture_finds_nothing_and_max_distance_is_a_bound(hash_index):
    assert decision.hash_hits(hash_index, fingerprint_image(_jpeg(scene(99)))) == []
    small = np.asarray(Image.fromarray(scene(1)).resize((213, 160)))  # a third of the size, quality 30
    query = fingerprint_image(_jpeg(small, quality=30))
    (rumor, distance), *_ = decision.hash_hits(hash_index, query)
    assert rumor == 11 and 0 < distance <= MATCH_DISTANCE
    assert decision.hash_hits(hash_index, query, distance)[0] == (11, distance)
    assert decision.hash_hits(hash_index, query, distance - 1) == []


def test_a_low_quality_hash_is_not_trusted_even_against_its_own_picture(hash_index):
    flat = fingerprint_image(_jpeg(np.full((300, 400, 3), (200, 40, 40), np.uint8)))
    assert flat.quality < decision.MIN_QUALITY and not decision.hash_trusted(flat)
    assert decision.hash_hits(hash_index, flat) == []
    assert decision.hash_hits(hash_index, flat, min_quality=0)[0] == (13, 0)  # the guard is what refuses it
    assert decision.hash_trusted(fingerprint_image(_jpeg(scene(0))))


def test_an_empty_index_answers_nothing():
    empty = ImageHashIndex.build(np.zeros((0, 4), np.uint64), np.zeros(0, np.int64))
    assert decision.hash_hits(empty, fingerprint_image(_jpeg(scene(0)))) == []


# ---- OCR text ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def text_index() -> MatchIndex:
    """Rumor k is CLAIMS[k] (fingerprint id k)."""
    entries = []
    for k, claim in enumerate(CLAIMS):
        fp = fingerprint(normalize_text(claim))
        entries.append(Entry(k, k, fp.shingles, fp.signature, fp.exact))
    return MatchIndex(entries)


def _screenshot_text(claim: str, top: list[str], bottom: list[str]) -> str:
    """What OCR reads off a chat screenshot: interface lines, the sender, the claim in lines of 13 characters."""
    body = [claim[i : i + 13] for i in range(0, len(claim), 13)]
    return "\n".join([*top, "老李", *body, *bottom])


def test_a_rumor_read_inside_a_screenshot_is_found_by_containment(text_index):
    text = _screenshot_text(CLAIMS[5], ["相亲相爱一家人(56)", "昨天 20:41"], ["真的假的？"])
    hits = decision.ocr_hits(text_index, text)
    assert hits[0] == (5, 1.0)
    assert all(c >= decision.OCR_REVIEW for _, c in hits)
    assert hits == sorted(hits, key=lambda h: (-h[1], h[0]))


def test_line_groups_find_a_rumor_the_whole_text_misses_as_a_candidate(text_index):
    # found by searching the claims and chat lines of these tests: the whole text's MinHash shares no band with
    # the rumor's, and it is too short for the matcher's windows; a run of its lines is a candidate
    text = _screenshot_text(CLAIMS[2], ["11:42", "相亲相爱一家人(56)"], ["真的假的？", "收到，谢谢提醒"])
    assert decision.ocr_hits(text_index, text, groups=False) == []
    assert decision.ocr_hits(text_index, text) == [(2, 1.0)]


def test_a_partly_read_rumor_falls_under_the_auto_threshold(text_index):
    half = CLAIMS[0][: len(CLAIMS[0]) // 2]
    hits = dict(decision.ocr_hits(text_index, half, decision.OCR_REVIEW - 0.2))
    assert 0.3 <= hits[0] < decision.OCR_AUTO
    assert decision.ocr_hits(text_index, half, decision.OCR_AUTO) == []


@pytest.mark.parametrize(
    "text", ["", "   \n ", "今天天气不错，我们去公园散步吧，顺便买点水果回家。", "转发 120 评论 45 赞 980"]
)
def test_text_without_a_rumor_finds_nothing(text_index, text):
    assert decision.ocr_hits(text_index, text) == []


def test_line_groups_are_runs_of_consecutive_lines():
    lines = [f"第{i}行" for i in range(10)]
    groups = decision.line_groups("\n".join(lines), sizes=(4,), step=2)
    assert groups[0] == "\n".join(lines[0:4]) and groups[1] == "\n".join(lines[2:6])
    assert groups[-1] == "\n".join(lines[6:10])
    assert decision.line_groups("\n".join(lines[:4]), sizes=(4,)) == []  # not longer than a group: the whole is it
    assert len(set(decision.line_groups("\n".join(lines)))) == len(decision.line_groups("\n".join(lines)))
