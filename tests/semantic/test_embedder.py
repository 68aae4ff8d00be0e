import numpy as np
import pytest

from debunk.semantic import embedder
from tests.semantic.conftest import needs_model


@pytest.fixture(autouse=True)
def _model():
    needs_model()


def test_vectors_are_float32_unit_length_of_the_model_size():
    vectors = embedder.embed_passages(["网传喝醋可以预防新冠病毒", "Drinking vinegar prevents COVID-19", ""])
    assert vectors.shape == (3, embedder.DIMENSIONS) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed_queries([]).shape == (0, embedder.DIMENSIONS)


def test_a_paraphrase_is_nearer_than_an_unrelated_text():
    rumor = embedder.embed_passages(["网传某市自来水厂被污染，全市停水三天"])[0]
    paraphrase, unrelated = embedder.embed_queries(
        ["听说咱们市的水厂出了污染事故，要停水整整三天", "周末去公园看樱花，人特别多"]
    )
    assert rumor @ paraphrase > rumor @ unrelated + 0.05
    en_rumor = embedder.embed_passages(["5G towers spread the coronavirus"])[0]
    en_para, en_unrelated = embedder.embed_queries(
        ["the new mobile phone masts are what is giving people covid", "my cat likes to sleep on the sofa"]
    )
    assert en_rumor @ en_para > en_rumor @ en_unrelated + 0.05


def test_the_query_and_passage_prefixes_differ():
    text = "网传喝醋可以预防新冠病毒"
    assert not np.allclose(embedder.embed_queries([text])[0], embedder.embed_passages([text])[0])


def test_stored_bytes_round_trip_and_a_wrong_size_is_refused():
    vector = embedder.embed_passages(["一段文字"])[0]
    assert np.array_equal(embedder.from_bytes(embedder.to_bytes(vector)), vector)
    with pytest.raises(ValueError):
        embedder.from_bytes(b"\x00" * 12)


def test_a_single_string_is_refused():
    with pytest.raises(TypeError):
        embedder.embed_passages("一段文字")
