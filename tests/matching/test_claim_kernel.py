"""The compiled claim search (compiled.claim_cells behind ClaimIndex.search) against the sparse-product reference
(ClaimIndex.search_reference): the same hits with the same scores, containments and evidence, at every score floor,
with pruned terms, long posting lists, deltas and removals, and after a snapshot round trip."""

import random

import pytest

from debunk.matching.claims import ClaimEntry, ClaimIndex

ALPHABET = "".join(chr(0x4E00 + 37 * i) for i in range(120))  # 120 CJK characters


def _char(rng: random.Random) -> str:
    return ALPHABET[int(len(ALPHABET) * rng.random() ** 3)]  # skewed: a few very common bigrams (pruned)


def _text(rng: random.Random, low: int, high: int) -> str:
    return "".join(_char(rng) for _ in range(rng.randint(low, high)))


def _edit(rng: random.Random, text: str, rate: float) -> str:
    chars = list(text)
    for _ in range(round(len(chars) * rate)):
        pos = rng.randrange(len(chars))
        if rng.random() < 0.5:
            chars[pos] = _char(rng)
        else:
            del chars[pos]
    return "".join(chars)


@pytest.fixture(scope="module")
def corpus():
    rng = random.Random(13)
    stock = [_text(rng, 15, 120) for _ in range(1500)]
    stock += ["Obama was born in Kenya says the senator", "10艘医疗军舰开进纽约港 USNS Comfort"]
    entries = [ClaimEntry(i + 1, i + 1, t) for i, t in enumerate(stock)]
    entries += [ClaimEntry(-(i + 1), i + 1, _edit(rng, stock[i], 0.3)) for i in range(0, 300, 3)]  # variants
    background = [_text(rng, 20, 150) for _ in range(500)]
    posts = []
    for i in range(160):
        source = rng.choice(stock)
        kind = i % 4
        if kind == 0:
            posts.append(_edit(rng, source, rng.uniform(0, 0.6)))
        elif kind == 1:
            posts.append(_text(rng, 10, 200))
        elif kind == 2:
            posts.append(_text(rng, 20, 150) + source + _text(rng, 0, 100))
        else:
            posts.append(source[: len(source) // 2] + " senator Kenya 纽约港")
    posts += ["", "   ", "的的的的", "x"]
    return entries, background, posts


def _agree(index: ClaimIndex, posts: list[str], floor: float) -> int:
    """Every hit above the floor in both answers, with the same score, containment and evidence; the count."""
    fast = index.search(posts, k=10_000, min_score=floor)
    slow = index.search_reference(posts, k=10_000, min_score=floor)
    compared = 0
    for a, b in zip(fast, slow, strict=True):
        mine = {h.rumor_id: h for h in a}
        ref = {h.rumor_id: h for h in b}
        for rumor_id in mine.keys() | ref.keys():
            x, y = mine.get(rumor_id), ref.get(rumor_id)
            if x is None or y is None:  # only where the float32 reference rounds across the floor
                assert abs((x or y).score - floor) < 1e-5, (rumor_id, x, y)
                continue
            assert x.score == pytest.approx(y.score, abs=1e-5)
            assert x.containment == pytest.approx(y.containment, abs=1e-5)
            assert x.terms == y.terms
            compared += 1
        top = index.search([posts[0]], k=5, min_score=floor)[0]
        assert [h.rumor_id for h in top] == [
            h.rumor_id for h in index.search_reference([posts[0]], k=5, min_score=floor)[0]
        ]
    return compared


@pytest.mark.parametrize("floor", [0.0, 0.05, 0.2, 0.45])
def test_compiled_search_agrees_with_the_reference(corpus, floor):
    entries, background, posts = corpus
    index = ClaimIndex(entries, background=background)
    assert (index._a["idf"] == 0).any()  # some terms pruned: long posting lists were cut
    assert _agree(index, posts, floor) > (100 if floor < 0.3 else 10)


def test_compiled_search_agrees_with_deltas_and_after_loading(corpus, tmp_path):
    entries, background, posts = corpus
    index = ClaimIndex(entries, background=background)
    index.save(tmp_path)
    loaded = ClaimIndex.load(tmp_path, 1).clone(2)
    loaded.remove_rumor(entries[0].rumor_id)
    loaded.remove_rumor(entries[5].rumor_id)
    loaded.add(ClaimEntry(entries[7].entry_id, entries[7].rumor_id, posts[0]))  # a snapshot text replaced
    loaded.add(ClaimEntry(99_999, 99_999, posts[4]))
    for floor in (0.0, 0.2):
        assert _agree(loaded, posts, floor) > 10
    found = loaded.search(posts, k=50)
    assert all(h.rumor_id not in (entries[0].rumor_id, entries[5].rumor_id) for hits in found for h in hits)
    assert any(h.rumor_id == 99_999 for h in found[4])


def test_top_k_is_the_same_ranking(corpus):
    entries, background, posts = corpus
    index = ClaimIndex(entries, background=background)
    for floor in (0.0, 0.2):
        fast = index.search(posts, k=5, min_score=floor)
        slow = index.search_reference(posts, k=5, min_score=floor)
        for a, b in zip(fast, slow, strict=True):
            assert [round(h.score, 4) for h in a] == pytest.approx([round(h.score, 4) for h in b], abs=2e-4)


def test_compiled_evidence_repeats_and_ties_as_the_reference():
    """Repeated stretches are given once, ties of IDF go to the longer then the earlier stretch: as the reference."""
    entries = [
        ClaimEntry(1, 1, "石正丽承认病毒来自武汉实验室 USNS Comfort 医疗船"),
        ClaimEntry(2, 2, "吃大蒜可以预防新冠病毒 garlic cures covid"),
        ClaimEntry(3, 3, "纽约港来了十艘医疗军舰"),
    ]
    index = ClaimIndex(entries, background=["今天天气不错", "病毒来了"])
    posts = [
        "石正丽 石正丽！石正丽承认了：病毒来自武汉实验室，武汉实验室。Comfort comfort COMFORT 医疗船",
        "garlic garlic 吃大蒜 吃大蒜可以预防 新冠 covid garlics",
        "十艘医疗军舰 纽约港 十艘医疗军舰 纽约港来了",
    ]
    fast = index.search(posts, k=5)
    slow = index.search_reference(posts, k=5)
    assert [[(h.rumor_id, h.terms) for h in a] for a in fast] == [[(h.rumor_id, h.terms) for h in b] for b in slow]
    assert fast[0][0].terms.count("石正丽") == 1 and len(fast[0][0].terms) > 1


@pytest.mark.parametrize("size", [0, 1, 7, 5000])
def test_bucketed_vocabulary_lookup_equals_the_binary_search(size):
    """The look-up through the bucket offsets gives the binary search's positions and found flags: present ids,
    absent ones, ids at bucket edges, below the first and above the last id."""
    import numpy as np

    from debunk.matching import claims

    rng = np.random.default_rng(size)
    vocab = np.unique(rng.integers(0, 2**64, size=size, dtype=np.uint64, endpoint=False))
    edges = np.arange(0, 1 << claims.BUCKET_BITS, 4099, dtype=np.uint64) << np.uint64(64 - claims.BUCKET_BITS)
    ids = np.concatenate(
        [
            vocab,
            vocab[: size // 2] + np.uint64(1),
            rng.integers(0, 2**64, size=3000, dtype=np.uint64),
            edges,
            edges - np.uint64(1),
            np.array([0, 2**64 - 1], dtype=np.uint64),
        ]
    )
    rng.shuffle(ids)
    off = claims._bucket_offsets(vocab)
    pos, found = claims._bucket_lookup(vocab, off, ids)
    ref_pos, ref_found = claims._lookup(vocab, ids)
    assert (found == ref_found).all() and (pos == ref_pos).all()
    assert found.sum() >= vocab.size


def test_a_snapshot_of_the_previous_format_is_refused(corpus, tmp_path):
    import numpy as np

    from debunk.matching import claims

    entries, background, _ = corpus
    ClaimIndex(entries[:50], background=background[:10]).save(tmp_path)
    meta = np.load(tmp_path / "meta.npy")
    meta[1] = claims.FORMAT - 1
    np.save(tmp_path / "meta.npy", meta)
    with pytest.raises(ValueError, match="format"):
        ClaimIndex.load(tmp_path, 1)
