"""The compiled matcher (debunk.matching.compiled) against its numpy references: same hashes, same
signatures, same band keys, same candidates and the same scored answers, deltas and snapshots included."""

import random

import numpy as np
import pytest

from debunk.matching import compiled
from debunk.matching.fingerprint import SHORT_TEXT, hash_ngrams, jaccard
from debunk.matching.index import _MULT, _SALT, BANDS, MatchIndex, band_keys, bucket_bits
from debunk.matching.matcher import (
    _WINDOWS,
    _Parts,
    _permutations64,
    _signatures,
    prepare,
    score_batch,
    score_batch_reference,
    score_prepared,
)
from tests.matching.test_index import edit, entry, random_text


def answers(results):
    return [[(s.rumor_id, s.similarity, s.containment) for s in found] for found in results]


def mixed_queries(rng: random.Random, stock: list[str], count: int) -> list[str]:
    """Edited copies, unrelated posts, quotes inside long posts, repost chains, exact and short texts."""
    out = []
    for i in range(count):
        source = rng.choice(stock)
        kind = i % 7
        if kind == 0:
            out.append(edit(rng, source, rng.randint(0, 6)))
        elif kind == 1:
            out.append(random_text(rng, rng.randint(1, 250)))
        elif kind == 2:
            out.append(random_text(rng, rng.randint(50, 300)) + source + random_text(rng, rng.randint(0, 300)))
        elif kind == 3:
            out.append(random_text(rng, rng.randint(0, 20)) + "//@某人:" + edit(rng, source, 2) + "//@另一人:" + source)
        elif kind == 4:
            out.append(source)
        elif kind == 5:
            out.append("，。！" if i % 2 else "")
        else:
            out.append(" ".join([source[: len(source) // 2], "😂", source[len(source) // 2 :]]))
    return out


@pytest.fixture(scope="module")
def stock():
    rng = random.Random(5)
    texts = [random_text(rng, rng.randint(5, 220)) for _ in range(500)]
    texts += texts[:5]  # duplicated texts: one band key held by several rows, one exact key too
    return texts


def test_ngram_hashes_equal_numpy_per_part():
    rng = random.Random(1)
    parts = [random_text(rng, n) for n in (0, 1, 2, 3, 4, 50, 300)] + ["abc", "ab"]
    cps = np.frombuffer("".join(parts).encode("utf-32-le"), dtype=np.uint32)
    lengths = np.array([len(p) for p in parts], dtype=np.int64)
    hashes, hoff = compiled.hash_parts(cps, lengths)
    for k, part in enumerate(parts):
        expected = hash_ngrams(np.frombuffer(part.encode("utf-32-le"), dtype=np.uint32)) if part else []
        assert hashes[hoff[k] : hoff[k + 1]].tolist() == list(expected)


def test_signatures_and_band_keys_equal_numpy():
    rng = random.Random(2)
    texts = [random_text(rng, n) for n in (300, 30, 130, 5, 200, 700, 14, 15, 16, 58, 59, 60)]
    texts.append("前言//@某人:" + texts[0] + "//@他人:" + texts[1])
    reference = _Parts(texts)
    expected, expected_owners = _signatures(reference)
    batch = prepare(texts)
    cps = np.frombuffer("".join(batch.parts).encode("utf-32-le"), dtype=np.uint32)
    lengths = np.array([len(p) for p in batch.parts], dtype=np.int64)
    assert batch.parts == reference.texts
    hashes, hoff = compiled.hash_parts(cps, lengths)
    a64, b64 = _permutations64()
    sigs, owner = compiled.signatures(hashes, hoff, lengths, batch.whole, a64, b64, _WINDOWS, SHORT_TEXT)
    assert batch.part_post[owner].tolist() == expected_owners.tolist()
    assert np.array_equal(sigs, expected)
    assert np.array_equal(compiled.band_keys(sigs, _MULT, _SALT), band_keys(expected))


def test_bucketed_lsh_table_finds_exactly_the_rows_sharing_a_band_key(stock):
    index = MatchIndex(entry(i, t) for i, t in enumerate(stock))
    rng = random.Random(3)
    queries = [edit(rng, rng.choice(stock), rng.randint(0, 8)) for _ in range(100)]
    signatures = np.stack([s for s in (entry(0, q).signature for q in queries) if s is not None])
    owners = np.arange(len(signatures), dtype=np.int64)
    posts, fp_ids = index.candidates_by_owner(signatures, owners)
    entries = [entry(i, t) for i, t in enumerate(stock)]
    stock_keys = {e.fp_id: set(band_keys(e.signature[None, :])[0].tolist()) for e in entries if e.signature is not None}
    found = set(zip(posts.tolist(), fp_ids.tolist(), strict=True))
    expected = {
        (o, i)
        for o, keys in enumerate(band_keys(signatures).tolist())
        for i, theirs in stock_keys.items()
        if theirs & set(keys)
    }
    assert found == expected and len(found) > 80
    off = index.arrays["lsh_off"]
    assert len(off) == (1 << bucket_bits(len(stock_keys) * BANDS)) + 1
    assert off[-1] == len(stock_keys) * BANDS


@pytest.mark.parametrize("min_score", [0.0, 0.3, 0.7])
def test_compiled_scores_equal_the_numpy_reference(stock, min_score):
    index = MatchIndex(entry(i, t) for i, t in enumerate(stock))
    queries = mixed_queries(random.Random(int(min_score * 10)), stock, 300)
    compiled_answers = answers(score_batch(index, queries, min_score=min_score))
    assert compiled_answers == answers(score_batch_reference(index, queries, min_score=min_score))
    assert sum(map(len, compiled_answers)) > 150
    # one post at a time gives the same answers as the batch
    assert [answers(score_batch(index, [q], min_score=min_score))[0] for q in queries[:60]] == compiled_answers[:60]


def test_compiled_scores_are_exact_jaccard_and_containment(stock):
    index = MatchIndex(entry(i, t) for i, t in enumerate(stock))
    rng = random.Random(9)
    for query in mixed_queries(rng, stock, 60):
        for scored in score_batch(index, [query], min_score=0.0)[0]:
            rumor = entry(0, stock[scored.fp_id])
            if rumor.signature is None:
                assert scored.similarity == scored.containment == 1.0
                continue
            own = [entry(0, p).shingles for p in prepare([query]).parts]
            assert scored.similarity == round(max(jaccard(s, rumor.shingles) for s in own), 4)


def test_deltas_and_memory_mapped_snapshots_score_like_the_reference(stock, tmp_path):
    built = MatchIndex((entry(i, t) for i, t in enumerate(stock)), version=1)
    built.save(tmp_path / "snap")
    index = MatchIndex.load(tmp_path / "snap", version=1)
    rng = random.Random(4)
    new_texts = [random_text(rng, rng.randint(5, 150)) for _ in range(20)]
    for i, text in enumerate(new_texts):
        index.add(entry(10_000 + i, text))
    index.add(entry(7, new_texts[0]))  # a stored fingerprint replaced by a new text
    index.remove_rumor(8)
    index.remove(10_003)
    queries = mixed_queries(rng, stock[:20] + new_texts, 200) + [stock[7], stock[8], new_texts[3]]
    got = score_batch(index, queries)
    assert answers(got) == answers(score_batch_reference(index, queries))
    found = {s.fp_id for result in got for s in result}
    assert {10_000, 10_001, 7} <= found and 8 not in found and 10_003 not in found
    assert not any(s.fp_id == 7 and s.similarity == 1.0 for s in got[-3])  # the old text of 7 is gone


def test_empty_index_and_empty_posts():
    assert score_batch(MatchIndex(), ["", "一段足够长的文字，用来检查空索引不会出错。", "短"]) == [[], [], []]
    assert score_batch(MatchIndex([entry(1, "某地停水")]), ["", "  ", "某地停水！"])[2][0].similarity == 1.0
    assert score_batch(MatchIndex(), []) == []


def test_warm_up_runs():
    compiled.warm_up()


def test_compiled_evidence_equals_the_numpy_reference(stock):
    from debunk.matching.matcher import evidence, evidence_reference
    from debunk.matching.normalize import normalize

    rng = random.Random(6)
    checked = 0
    for query in mixed_queries(rng, stock, 200):
        post = normalize(query)
        batch = prepare([query], offsets=True)
        score_prepared(MatchIndex(), batch)
        for rumor in [rng.choice(stock), *[s for s in stock if s and s[:6] in post.text][:2]]:
            expected = evidence_reference(post, rumor)
            assert evidence(post, rumor) == expected
            if post.text:
                assert evidence(post, rumor, post_grams=batch.grams(0)) == expected
            checked += bool(expected)
        assert batch.normalized[0] == (post if post.text else None)
    assert checked > 50


def test_batched_evidence_equals_the_reference_pair_by_pair(stock):
    from debunk.matching.matcher import evidence_many, evidence_reference
    from debunk.matching.normalize import normalize

    rng = random.Random(7)
    queries = mixed_queries(rng, stock, 120)
    batch = prepare(queries, offsets=True)
    score_prepared(MatchIndex(), batch)
    pairs = [
        (i, rumor)
        for i, query in enumerate(queries)
        if batch.normalized[i] is not None
        for rumor in [rng.choice(stock), *[s for s in stock if s and s[:6] in normalize(query).text][:2]]
    ]
    got = evidence_many(batch, pairs)
    assert got == [evidence_reference(normalize(queries[i]), rumor) for i, rumor in pairs]
    assert sum(map(bool, got)) > 30 and evidence_many(batch, []) == []


def test_key_filter_holds_every_stored_key_and_little_else():
    from debunk.matching.index import FILTER_BITS_PER_KEY, key_filter

    keys = np.random.default_rng(3).integers(0, 2**63, size=50_000, dtype=np.int64).astype(np.uint64) * np.uint64(2)
    words = key_filter(keys)
    bits = words.size * 64
    assert bits >= keys.size * FILTER_BITS_PER_KEY and bits & (bits - 1) == 0
    low = keys & np.uint64(bits - 1)
    assert ((words[(low >> np.uint64(6)).astype(np.int64)] >> (low & np.uint64(63))) & np.uint64(1)).all()
    fill = sum(bin(w).count("1") for w in words.tolist()) / bits
    assert 0.05 < fill < 0.13  # 1 - e^(-1/8) ≈ 0.118 at 8 bits a key, fewer when rounded up to a power of two
    assert key_filter(np.empty(0, np.uint64)).tolist() == [0]
