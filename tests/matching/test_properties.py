"""Properties of the matcher, DB-free: a MatchIndex built from Entry objects, asked through score_text.

Texts are drawn from CJK ideographs that normalisation leaves as they are (one at a time and, as
checked in `test_noise_is_invisible_to_normalisation`, in context), so every figure below can be
worked out on the characters themselves.
"""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from debunk.matching.fingerprint import fingerprint, jaccard
from debunk.matching.index import Entry, MatchIndex
from debunk.matching.matcher import score_text
from debunk.matching.normalize import normalize

ALPHABET = [c for c in map(chr, range(0x4E00, 0x9FA6)) if normalize(c).text == c]  # ~17,000 ideographs
NOISE = list("，。！？、；：“”（）《》…—,.!?~# \n\t\u3000") + ["😱", "🔥", "👍", "🙏", "😂", "❤️", "\u200b"]
RUMOR_ID = 7

cjk_texts = st.text(alphabet=st.sampled_from(ALPHABET), min_size=20, max_size=200)
# Distinct characters, so that every 3-gram is distinct: the arithmetic below counts on it.
distinct_cjk_texts = st.lists(st.sampled_from(ALPHABET), min_size=20, max_size=160, unique=True).map("".join)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
examples = settings(max_examples=50, deadline=None)


def index_of(text: str) -> MatchIndex:
    fp = fingerprint(normalize(text).text)
    return MatchIndex([Entry(fp_id=1, rumor_id=RUMOR_ID, shingles=fp.shingles, signature=fp.signature, exact=fp.exact)])


def random_cjk(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(ALPHABET, k=length))


@st.composite
def edited(draw: st.DrawFn, text: str, per_substitution: int) -> str:
    """text with at most len(text) // per_substitution characters replaced, and noise inserted anywhere."""
    chars = list(text)
    budget = len(chars) // per_substitution
    positions = draw(st.lists(st.integers(0, len(chars) - 1), max_size=budget, unique=True))
    for position in positions:
        chars[position] = draw(st.sampled_from(ALPHABET).filter(lambda c, old=chars[position]: c != old))
    insertions = draw(st.lists(st.tuples(st.integers(0, len(chars)), st.sampled_from(NOISE)), max_size=10))
    for position, noise in sorted(insertions, reverse=True):
        chars.insert(position, noise)
    return "".join(chars)


@examples
@given(cjk_texts)
def test_a_text_matches_itself_with_similarity_1(text):
    [scored] = score_text(index_of(text), text)
    assert (scored.rumor_id, scored.similarity, scored.containment) == (RUMOR_ID, 1.0, 1.0)


@examples
@given(st.data(), distinct_cjk_texts)
def test_noise_is_invisible_to_normalisation(data, text):
    noisy = data.draw(edited(text, per_substitution=len(text) + 1))  # insertions only
    assert normalize(noisy).text == text


# The arithmetic of light edits. A text of n distinct characters has S = n - 2 distinct 3-grams.
# Replacing k characters removes at most 3k of them (the 3-grams covering each replaced character)
# and adds at most 3k new ones; inserted punctuation, emoji and whitespace are removed by
# normalisation and change nothing. So Jaccard >= (S - 3k) / (S + 3k).
#
# - Up to 5% replaced (k = n // 20): the worst case is n = 20, k = 1: 15 / 21 = 0.714 (then 32 / 44
#   = 0.727 at n = 40, rising towards 0.85 / 1.15 = 0.739): the exact Jaccard always reaches 0.7.
# - score_text, however, only scores the candidates the LSH bands (25 bands x 5 rows) return: a pair
#   at Jaccard J is one with probability 1 - (1 - J^5)^25, which is 0.994 at J = 0.714 (measured:
#   about 1 pair in 170 of the 5% worst case is never scored). So the end-to-end property replaces at
#   most one character per 40 (k = n // 40, 2.5%): the worst case is n = 40, k = 1: 35 / 41 = 0.854
#   (0.857 at n = 80, tending to 0.925 / 1.075 = 0.860), where a pair is missed with probability
#   (1 - 0.854^5)^25 < 1e-6. Texts under 40 characters only get noise inserted.


@examples
@given(st.data(), distinct_cjk_texts)
def test_light_edits_keep_the_exact_jaccard_above_0_7(data, text):
    post = data.draw(edited(text, per_substitution=20))
    similarity = jaccard(fingerprint(normalize(post).text).shingles, fingerprint(text).shingles)
    assert similarity >= 0.7


@examples
@given(st.data(), distinct_cjk_texts)
def test_light_edits_still_match_with_similarity_0_7(data, text):
    post = data.draw(edited(text, per_substitution=40))
    scored = score_text(index_of(text), post)
    assert scored and scored[0].rumor_id == RUMOR_ID
    assert scored[0].similarity >= 0.7


@examples
@given(seeds, st.integers(40, 150), st.integers(40, 150))
def test_unrelated_random_texts_stay_below_0_5(seed, length_a, length_b):
    # The texts come from a seeded PRNG, not from Hypothesis' own choices, which would happily make
    # them equal: with ~17,000 characters two random texts share a 3-gram with probability ~1e-6.
    rng = random.Random(seed)
    rumor, post = random_cjk(rng, length_a), random_cjk(rng, length_b)
    for scored in score_text(index_of(rumor), post, min_score=0.0):
        assert scored.similarity < 0.5 and scored.containment < 0.5


@examples
@given(seeds, st.integers(60, 150), st.floats(3.0, 4.0), st.floats(0.0, 1.0))
def test_a_rumor_quoted_in_a_long_post_reaches_containment_0_8(seed, length, times, where):
    rng = random.Random(seed)
    rumor = random_cjk(rng, length)
    around = round(length * times) - length
    before = round(around * where)
    post = random_cjk(rng, before) + rumor + random_cjk(rng, around - before)
    scored = score_text(index_of(rumor), post)
    assert scored and scored[0].rumor_id == RUMOR_ID
    assert scored[0].containment >= 0.8
