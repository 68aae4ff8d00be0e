"""The vector index (pure numpy: runs without the model)."""

import numpy as np
import pytest

from debunk.semantic.index import VectorEntry, VectorIndex


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


ENTRIES = [
    VectorEntry(1, 10, unit(1, 0, 0, 0)),
    VectorEntry(2, 10, unit(0.9, 0.1, 0, 0)),  # a second text of rumor 10
    VectorEntry(3, 20, unit(0.7, 0.7, 0, 0)),
    VectorEntry(4, 30, unit(0, 0, 1, 0)),
    VectorEntry(5, 40, unit(0, 1, 0, 0)),
]


def ids(hits):
    return [(h.rumor_id, h.entry_id) for h in hits]


def test_top_k_by_dot_product_one_hit_per_rumor_its_nearest_text():
    index = VectorIndex(ENTRIES, version=3)
    [hits] = index.search(unit(1, 0.05, 0, 0), k=3)
    assert ids(hits) == [(10, 1), (20, 3), (40, 5)]
    assert hits[0].score == pytest.approx(float(unit(1, 0, 0, 0) @ unit(1, 0.05, 0, 0)), abs=1e-6)
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_min_score_and_several_queries_at_once():
    index = VectorIndex(ENTRIES)
    first, second = index.search(np.stack([unit(1, 0, 0, 0), unit(0, 0, 1, 0)]), k=5, min_score=0.6)
    assert [h.rumor_id for h in first] == [10, 20]
    assert [h.rumor_id for h in second] == [30]
    assert index.search(unit(0, 0, 0, 1), k=5, min_score=0.5) == [[]]


def test_many_texts_of_one_rumor_do_not_crowd_out_others():
    crowd = [VectorEntry(100 + i, 1, unit(1, 0.001 * i, 0, 0)) for i in range(50)]
    index = VectorIndex([*crowd, VectorEntry(999, 2, unit(0.5, 0.5, 0, 0))])
    [hits] = index.search(unit(1, 0, 0, 0), k=2)
    assert [h.rumor_id for h in hits] == [1, 2]


def test_save_and_memory_mapped_load(tmp_path):
    VectorIndex(ENTRIES, version=7).save(tmp_path / "snap")
    loaded = VectorIndex.load(tmp_path / "snap", version=7)
    assert isinstance(loaded._a["vectors"], np.memmap)
    assert loaded.version == loaded.snapshot_version == 7 and len(loaded) == len(ENTRIES)
    query = unit(0.2, 0.9, 0.1, 0)
    assert ids(loaded.search(query, k=4)[0]) == ids(VectorIndex(ENTRIES).search(query, k=4)[0])


def test_deltas_replace_a_rumors_texts_and_hide_removed_ones(tmp_path):
    VectorIndex(ENTRIES, version=1).save(tmp_path / "snap")
    base = VectorIndex.load(tmp_path / "snap", version=1)
    changed = base.clone(version=2)
    changed.remove_rumor(10)  # rumor 10 retracted
    changed.remove_rumor(30)
    changed.add(VectorEntry(6, 30, unit(1, 0, 0, 0)))  # rumor 30 reworded
    changed.add(VectorEntry(7, 50, unit(0, 0, 0, 1)))  # a new rumor
    assert changed.version == 2 and changed.snapshot_version == 1 and changed.delta_size == 3
    [hits] = changed.search(unit(1, 0, 0, 0), k=5, min_score=0.1)
    assert [h.rumor_id for h in hits] == [30, 20]
    assert changed.search(unit(0, 0, 0, 1), k=1)[0][0].rumor_id == 50
    assert changed.search(unit(0, 0, 1, 0), k=5, min_score=0.5) == [[]]  # 30's old text is gone
    # the snapshot it was cloned from is untouched
    assert base.search(unit(1, 0, 0, 0), k=1)[0][0].rumor_id == 10 and base.delta_size == 0
    again = changed.clone(version=3)
    again.remove_rumor(50)
    assert changed.search(unit(0, 0, 0, 1), k=1)[0][0].rumor_id == 50
    assert again.search(unit(0, 0, 0, 1), k=1, min_score=0.5) == [[]]


def test_an_empty_index_and_a_wrong_dimension():
    empty = VectorIndex([], dimensions=4)
    assert empty.search(unit(1, 0, 0, 0), k=5) == [[]] and len(empty) == 0
    empty.add(VectorEntry(1, 1, unit(0, 1, 0, 0)))
    assert empty.search(unit(0, 1, 0, 0), k=5)[0][0].rumor_id == 1
    index = VectorIndex(ENTRIES)
    with pytest.raises(ValueError):
        index.add(VectorEntry(9, 9, np.ones(3, np.float32)))
    with pytest.raises(ValueError):
        index.search(np.ones(3, np.float32))
