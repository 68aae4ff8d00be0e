from search.analysis import clean, fold, query_terms, simplify, terms
from search.backends.base import minimum_should_match, required_terms
from search.highlight import highlight


def test_cjk_bigrams_and_lone_characters():
    assert terms("疫苗接种") == ["疫苗", "苗接", "接种"]
    assert terms("苗") == ["苗"]
    assert terms("打 疫苗") == ["打", "疫苗"]


def test_traditional_folds_to_simplified_and_width_to_ascii():
    assert fold("網傳疫苗") == "网传疫苗"
    assert terms("ＶＡＣＣＩＮＥＳ") == ["vaccin"]
    assert simplify("網傳 Vaccines") == "网传 Vaccines"  # case kept for the texts sent to Elasticsearch


def test_english_words_are_stemmed_without_stop_words():
    assert terms("The vaccines are causing children's autism") == ["vaccin", "caus", "children", "autism"]
    assert query_terms("vaccine vaccines vaccinated") == ["vaccin"]


def test_links_and_mentions_are_ignored():
    assert clean("see https://t.co/abc @someone") == "see " + " " * len("https://t.co/abc") + " " * 9
    assert terms("pic.twitter.com/xyz 疫苗 @user") == ["疫苗"]


def test_required_terms_matches_elasticsearch_negative_percentage():
    assert [required_terms(n, 0.6) for n in range(1, 7)] == [1, 2, 2, 3, 3, 4]
    assert minimum_should_match(0.6) == "-40%"
    assert required_terms(10, 0.1) == 1 and required_terms(35, 0.1) == 4
    assert required_terms(0, 0.5) == 0


def test_highlight_escapes_and_marks_the_original_text():
    assert highlight("網傳<b>疫苗</b>", {"疫苗"}) == "網傳&lt;b&gt;<mark>疫苗</mark>&lt;/b&gt;"
    assert highlight("Vaccines cause autism", {"vaccin"}) == "<mark>Vaccines</mark> cause autism"
    assert highlight("没有匹配", {"疫苗"}) is None


def test_highlight_windows_long_texts_around_matches():
    text = "甲" * 300 + "疫苗" + "乙" * 300
    snippet = highlight(text, {"疫苗"}, max_chars=60)
    assert snippet.startswith("…") and snippet.endswith("…") and "<mark>疫苗</mark>" in snippet
    assert len(snippet.replace("<mark>", "").replace("</mark>", "")) <= 62
