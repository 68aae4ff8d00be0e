import numpy as np
import pytest

from debunk.images.hashing import PdqHash
from debunk.images.index import ImageHashIndex, hash_words, hashes_array, plain_scan, words_to_bytes

rng = np.random.default_rng(12)


def random_hashes(n: int) -> np.ndarray:
    return rng.integers(0, np.iinfo(np.uint64).max, (n, 4), dtype=np.uint64, endpoint=True)


def flip(words: np.ndarray, count: int) -> np.ndarray:
    """A copy with `count` distinct random bits flipped (at distance exactly `count`)."""
    out = words.copy()
    for bit in rng.choice(256, count, replace=False):
        out[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return out


def reference(hashes: np.ndarray, ids: np.ndarray, query: np.ndarray, d: int) -> list[tuple[int, int]]:
    """The plain numpy scan, then the nearest hash of each rumor, nearest first, ties by rumor id."""
    rows, dist = plain_scan(hashes, query, d)
    best: dict[int, int] = {}
    for row, distance in zip(rows.tolist(), dist.tolist(), strict=True):
        rumor = int(ids[row])
        best[rumor] = min(distance, best.get(rumor, 999))
    return sorted(((r, dd) for r, dd in best.items()), key=lambda p: (p[1], p[0]))


@pytest.fixture(scope="module")
def stock():
    """3,000 random hashes plus clusters of near copies (at 0-40 bits) of 50 of them, so that answers have many
    rows, ties and several hashes of one rumor; rumor ids repeat."""
    base = random_hashes(3000)
    near = np.stack([flip(base[i % 50], int(rng.integers(0, 41))) for i in range(2000)])
    hashes = np.concatenate([base, near])
    ids = np.concatenate([np.arange(3000) // 3, rng.integers(0, 40, 2000)]).astype(np.int64)
    return hashes, ids, ImageHashIndex.build(hashes, ids)


@pytest.mark.parametrize("d", [0, 1, 8, 15, 16, 31, 32, 47])
@pytest.mark.parametrize("method", ["auto", "mih", "scan", "numpy"])
def test_results_equal_the_plain_scan(stock, d, method):
    hashes, ids, index = stock
    queries = [flip(hashes[i % 60], int(rng.integers(0, 45))) for i in range(60)] + list(random_hashes(5))
    answered = 0
    for q in queries:
        got = index.query(q, d, method=method)
        assert got == reference(hashes, ids, q, d)
        answered += bool(got)
    if d >= 16:
        assert answered >= 20  # the comparison covered real answers, not only empty lists


@pytest.mark.parametrize("d", [48, 64, 100])
def test_large_distances_scan_and_stay_exact(stock, d):
    hashes, ids, index = stock
    for i in range(10):
        q = flip(hashes[i], 50)
        assert index.query(q, d) == reference(hashes, ids, q, d)
    with pytest.raises(ValueError, match="multi-index hashing answers"):
        index.query(hashes[0], d, method="mih")


def test_distance_boundary():
    stored = random_hashes(200)
    index = ImageHashIndex.build(stored, np.arange(200))
    for d in (0, 15, 16, 31, 32, 47):
        at_d = flip(stored[7], d)
        assert (7, d) in index.query(at_d, d)
        assert (7, d) in index.query(at_d, d, method="mih")
        if d:
            assert all(rumor != 7 for rumor, _ in index.query(at_d, d - 1))
        beyond = flip(stored[9], d + 1)
        assert all(rumor != 9 for rumor, _ in index.query(beyond, d))
        assert all(rumor != 9 for rumor, _ in index.query(beyond, d, method="mih"))


def test_one_answer_per_rumor_at_its_nearest_hash_ties_by_rumor_id():
    q = random_hashes(1)[0]
    stored = np.stack([flip(q, 10), flip(q, 3), flip(q, 5), flip(q, 5), flip(q, 40), q])
    index = ImageHashIndex.build(stored, [7, 7, 9, 4, 4, 2])
    assert index.query(q, 31) == [(2, 0), (7, 3), (4, 5), (9, 5)]
    assert index.query(q, 4) == [(2, 0), (7, 3)]


def test_many_identical_hashes_fall_back_to_a_scan_exactly():
    """Buckets holding most rows (many copies of one picture, or flat pictures) must not slow a query past a
    scan, nor change its answer."""
    common = random_hashes(1)[0]
    stored = np.concatenate([np.tile(common, (3000, 1)), random_hashes(500)])
    ids = np.arange(3500) % 700
    index = ImageHashIndex.build(stored, ids)
    for q in (common, flip(common, 20), stored[3200]):
        assert index.query(q, 31) == reference(stored, ids, q, 31)
    assert len(index.query(common, 31)) == 700  # every rumor id has a copy of `common`


def test_empty_index():
    index = ImageHashIndex.build([], [])
    assert len(index) == 0
    for method in ("auto", "mih", "scan", "numpy"):
        assert index.query(random_hashes(1)[0], 31, method=method) == []
    assert index.query_batch([b"\x00" * 32, "ff" * 32], 31) == [[], []]


def test_batch_equals_single_queries(stock):
    hashes, _, index = stock
    queries = [flip(hashes[i], 12) for i in range(30)]
    assert index.query_batch(queries, 31) == [index.query(q, 31) for q in queries]


def test_every_hash_form_is_accepted_alike(stock):
    hashes, _, index = stock
    words = hashes[42]
    raw = words_to_bytes(words)
    assert raw.hex() and len(raw) == 32
    assert np.array_equal(hash_words(raw), words)
    expected = index.query(words, 20)
    assert expected and expected[0][1] == 0
    assert index.query(raw, 20) == expected
    assert index.query(raw.hex(), 20) == expected
    assert index.query(raw.hex().upper(), 20) == expected
    assert index.query(PdqHash(raw, 90), 20) == expected
    assert np.array_equal(hashes_array([raw, PdqHash(raw, 90), raw.hex()]), np.stack([words] * 3))


@pytest.mark.parametrize(
    "bad",
    [
        *(b"\x00" * 31, b"\x00" * 33, b"", "ab" * 31, "ab" * 33, "zz" * 32),
        *(np.zeros(3, np.uint64), np.zeros(4, np.int64), 5),
    ],
    ids=["31_bytes", "33_bytes", "empty", "short_hex", "long_hex", "not_hex", "3_words", "signed_words", "int"],
)
def test_bad_hash_is_refused(stock, bad):
    _, _, index = stock
    with pytest.raises(ValueError):
        index.query(bad, 31)
    with pytest.raises(ValueError):
        index.query_batch([b"\x00" * 32, bad], 31)
    with pytest.raises(ValueError):
        ImageHashIndex.build([b"\x00" * 32, bad], [1, 2])


@pytest.mark.parametrize("d", [-1, 257, 3.5, True, "31", None])
def test_bad_distance_is_refused(stock, d):
    _, _, index = stock
    with pytest.raises(ValueError, match="max_distance"):
        index.query(b"\x00" * 32, d)


def test_bad_build_and_method_are_refused(stock):
    with pytest.raises(ValueError, match="2 hashes but 1 rumor ids"):
        ImageHashIndex.build(random_hashes(2), [1])
    with pytest.raises(ValueError, match=r"\(N, 4\) uint64"):
        ImageHashIndex.build(np.zeros((3, 4), np.int64), [1, 2, 3])
    with pytest.raises(ValueError, match="unknown method"):
        stock[2].query(b"\x00" * 32, 31, method="faiss")


def test_saved_index_loads_memory_mapped_with_the_same_answers(stock, tmp_path):
    hashes, ids, index = stock
    index.save(tmp_path / "snap")
    loaded = ImageHashIndex.load(tmp_path / "snap")
    assert len(loaded) == len(index)
    assert isinstance(np.load(tmp_path / "snap" / "hashes.npy", mmap_mode="r"), np.memmap)
    assert not loaded.hashes.flags.writeable  # a read-only map shared by the processes, not a private copy
    for i in range(20):
        q = flip(hashes[i], 20)
        assert loaded.query(q, 31) == index.query(q, 31) == reference(hashes, ids, q, 31)
