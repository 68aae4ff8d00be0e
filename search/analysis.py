"""Text analysis for search: the same terms for indexing and querying, in Chinese and English.

Folding is per character, so that positions map back to the original text (for highlighting): NFKC, lower case and
OpenCC ``t2s`` (Traditional → Simplified), each character on its own. Then:

- runs of CJK ideographs become overlapping character bigrams (疫苗接种 → 疫苗 苗接 接种); a run of one character is
  kept as a unigram, so a lone character (or a one-character query) still has a term;
- runs of Latin letters and digits become words: lower case, a possessive ``'s`` dropped, English stop words (the
  Lucene / Elasticsearch ``_english_`` list) removed, and Snowball English (Porter2) stemming.

The Elasticsearch backend's analyser (standard tokenizer, ``cjk_width``, ``lowercase``, ``cjk_bigram``, English stop
words and stemmer) is built to produce the same kinds of terms, so coverage thresholds mean the same in both.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import opencc
import snowballstemmer

# Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, which Elasticsearch calls `_english_`.
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these they "  # noqa: SIM905
    "this to was will with".split()
)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\U00030000-\U0003134f"
_TOKEN_RE = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>[^\W_{_CJK}]+(?:['’][^\W_{_CJK}]+)*)")
# Links and @mentions carry no meaning for search (and would turn into words such as "https", "co").
_NOISE_RE = re.compile(r"(?:https?://|www\.|pic\.twitter\.com/)\S*|@[\w\-]{1,30}", re.IGNORECASE)
_T2S = opencc.OpenCC("t2s")
_STEMMER = snowballstemmer.stemmer("english")


class _FoldTable(dict):
    """ord → folded text: NFKC, lower case and t2s of one character, computed on first sight."""

    __slots__ = ()

    def __missing__(self, key: int) -> str:
        folded = _T2S.convert(unicodedata.normalize("NFKC", chr(key)).lower())
        if len(self) < 1 << 16:
            self[key] = folded
        return folded


class _SimplifyTable(dict):
    """ord → the character in Simplified script (case and width kept), for texts sent to Elasticsearch."""

    __slots__ = ()

    def __missing__(self, key: int) -> str:
        converted = _T2S.convert(chr(key))
        value = converted if len(converted) == 1 else chr(key)
        if len(self) < 1 << 16:
            self[key] = value
        return value


_FOLD = _FoldTable()
_SIMPLIFY = _SimplifyTable()


_CJK_CHAR_RE = re.compile(rf"[{_CJK}]")


def is_cjk_char(term: str) -> bool:
    """Whether a term is a single CJK character (a lone character, or a one-character query)."""
    return len(term) == 1 and _CJK_CHAR_RE.match(term) is not None


def clean(text: str) -> str:
    """The text with links and @mentions blanked out (same length, so positions hold)."""
    return _NOISE_RE.sub(lambda m: " " * len(m.group()), text)


def fold(text: str) -> str:
    """NFKC, lower case and Traditional → Simplified, character by character."""
    return text.translate(_FOLD)


def simplify(text: str) -> str:
    """Traditional → Simplified, character by character, keeping the length (for Elasticsearch, which has no t2s)."""
    return text.translate(_SIMPLIFY)


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each of its characters, the index of the original character it came from."""
    parts: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        folded = _FOLD[ord(ch)]
        parts.append(folded)
        offsets.extend([i] * len(folded))
    return "".join(parts), offsets


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str | None:
    """The index term of a lower-case word, None for a stop word."""
    word = word.replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    if not word or word in STOPWORDS:
        return None
    return _STEMMER.stemWord(word) if word.isascii() and not word.isdigit() else word


@dataclass(frozen=True, slots=True)
class Token:
    term: str
    start: int  # in the folded text
    end: int


def tokens(folded: str) -> Iterator[Token]:
    """Terms of an already folded text, with their positions."""
    for m in _TOKEN_RE.finditer(folded):
        start, end = m.span()
        if m.lastgroup == "cjk":
            if end - start == 1:
                yield Token(folded[start], start, end)
            else:
                for i in range(start, end - 1):
                    yield Token(folded[i : i + 2], i, i + 2)
        else:
            term = stem(m.group())
            if term is not None:
                yield Token(term, start, end)


def terms(text: str) -> list[str]:
    """The index terms of a text, in order, repeats kept (tokens() without positions, for speed)."""
    out: list[str] = []
    for cjk, word in _TOKEN_RE.findall(fold(clean(text))):
        if cjk:
            if len(cjk) == 1:
                out.append(cjk)
            else:
                out.extend([cjk[i : i + 2] for i in range(len(cjk) - 1)])
        else:
            term = stem(word)
            if term is not None:
                out.append(term)
    return out


def term_counts(text: str) -> Counter[str]:
    return Counter(terms(text))


def query_terms(text: str) -> list[str]:
    """The distinct terms of a query, in order of first appearance."""
    return list(dict.fromkeys(terms(text)))
