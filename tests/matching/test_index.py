"""The LSH index against a brute-force scan of exact Jaccard: the index must find what the scan finds."""

import random

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash

from debunk.matching.fingerprint import (
    NUM_PERM,
    SEED,
    fingerprint,
    jaccard,
    minhash,
    positional_shingles,
    shingle_hashes,
)
from debunk.matching.index import Entry, MatchIndex

ALPHABET = (
    "的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知"
    "民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼"
    "体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认"
    "算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取"
    "设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坐集编宝谈府拉黑且随格尽剑讲布杀微怕母调局根曾准团段终乐切级克精哪官示冷域读"
)


def random_text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(n))


def edit(rng: random.Random, text: str, changes: int) -> str:
    chars = list(text)
    for _ in range(changes):
        chars[rng.randrange(len(chars))] = rng.choice(ALPHABET)
    return "".join(chars)


def entry(fp_id: int, text: str) -> Entry:
    fp = fingerprint(text)
    return Entry(fp_id, rumor_id=fp_id, shingles=fp.shingles, signature=fp.signature, exact=fp.exact)


def test_signatures_are_datasketch_minhashes():
    fp = fingerprint("网传某市自来水厂被污染全市停水三天请大家赶紧囤水")
    lean = LeanMinHash(MinHash(num_perm=NUM_PERM, seed=SEED, hashvalues=fp.signature, scheme="affine32"))
    assert lean.hashvalues.tolist() == fp.signature.tolist()
    other = fingerprint("网传某市自来水厂被污染全市停水两天请大家赶紧囤水")
    estimate = lean.jaccard(
        LeanMinHash(MinHash(num_perm=NUM_PERM, seed=SEED, hashvalues=other.signature, scheme="affine32"))
    )
    assert abs(estimate - jaccard(fp.shingles, other.shingles)) < 0.2


def test_batch_signatures_equal_minhash_of_each_part_and_window():
    from debunk.matching.matcher import BLOCK, WINDOWS, _Parts, _signatures

    rng = random.Random(3)
    texts = [random_text(rng, n) for n in (300, 30, 130, 5, 200)]
    parts = _Parts(texts)
    signatures, owners = _signatures(parts)
    expected, expected_owners = [], []
    for post, text in enumerate(texts):
        positional = positional_shingles(text)
        if len(text) >= 15:
            expected.append(minhash(np.unique(positional)))
            expected_owners.append(post)
    for window, stride in WINDOWS:
        for post, text in enumerate(texts):
            positional = positional_shingles(text)
            if positional.size > window * 1.2:
                blocks = -(-positional.size // BLOCK)
                for start in range(0, (blocks - window // BLOCK) * BLOCK + 1, stride):
                    expected.append(minhash(np.unique(positional[start : start + window])))
                    expected_owners.append(post)
    assert owners.tolist() == expected_owners
    assert np.array_equal(signatures, np.array(expected))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_index_finds_every_pair_at_jaccard_07_that_brute_force_finds(seed):
    rng = random.Random(seed)
    stock = [random_text(rng, rng.randint(20, 200)) for _ in range(400)]
    index = MatchIndex(entry(i, t) for i, t in enumerate(stock))
    queries = [edit(rng, rng.choice(stock), rng.randint(0, 6)) for _ in range(200)]
    queries += [random_text(rng, 80) for _ in range(50)]
    missed = total = 0
    for query in queries:
        fp = fingerprint(query)
        truth = {i for i, t in enumerate(stock) if jaccard(fp.shingles, shingle_hashes(t)) >= 0.7}
        found = index.candidates(fp.signature, fp.exact)
        total += len(truth)
        missed += len(truth - found)
    assert total > 150
    assert missed / total <= 0.005


def test_add_and_remove_take_effect_without_rebuild():
    rng = random.Random(7)
    base = [random_text(rng, 100) for _ in range(50)]
    index = MatchIndex(entry(i, t) for i, t in enumerate(base))
    new_text = random_text(rng, 120)
    fp = fingerprint(new_text)
    assert 500 not in index.candidates(fp.signature, fp.exact)
    index.add(entry(500, new_text))
    assert 500 in index.candidates(fp.signature, fp.exact)
    index.remove(500)
    assert 500 not in index.candidates(fp.signature, fp.exact)
    old = fingerprint(base[3])
    index.remove(3)
    assert 3 not in index.candidates(old.signature, old.exact)
    assert len(index) == 49


def test_short_texts_match_by_exact_hash_only():
    index = MatchIndex([entry(1, "某地停水")])
    assert index.lookup(1)[2] is True  # short
    assert index.candidates(None, fingerprint("某地停水").exact) == {1}
    assert index.candidates(None, fingerprint("某地停电").exact) == set()


def test_snapshot_saved_and_memory_mapped_behaves_the_same(tmp_path):
    rng = random.Random(11)
    stock = [random_text(rng, 120) for _ in range(100)] + ["某地停水"]
    built = MatchIndex((entry(i, t) for i, t in enumerate(stock)), version=7)
    built.save(tmp_path / "snap")
    mapped = MatchIndex.load(tmp_path / "snap", version=7)
    assert isinstance(mapped._a["sh_data"], np.memmap)
    assert len(mapped) == len(built) == 101
    for text in [stock[5], edit(rng, stock[9], 3), "某地停水"]:
        fp = fingerprint(text)
        assert mapped.candidates(fp.signature, fp.exact) == built.candidates(fp.signature, fp.exact) != set()
    mapped.remove_rumor(5)
    assert 5 not in mapped.candidates(fingerprint(stock[5]).signature, fingerprint(stock[5]).exact)
    assert len(mapped) == 100


def test_old_snapshots_are_pruned_two_newest_kept(tmp_path):
    from debunk.matching.serving import _prune

    names = ["v1-100-f2", "v2-200", "v3-300-f2", "v10-1000-f2", "v11-1100-f2.building", "other"]
    for name in names:
        (tmp_path / name).mkdir()
    _prune(tmp_path / "v10-1000-f2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "v10-1000-f2", "v11-1100-f2.building", "v3-300-f2"]
