"""Text normalisation for matching social-media posts (Weibo etc.) against the rumor stock.

``normalize`` reduces a post to letters, digits and CJK (plus combining marks attached to them) and keeps, for every
character it produces, the index of the original character it came from, so that matches found on the normalised text
can be shown on the original post.

Steps, as they are run (``t2s`` only concerns CJK ideographs, which lower case and the removals leave alone, so it is
run last, on the short kept text):

1. NFKC per character (full-width ASCII becomes half-width; a character whose NFKC form is several characters maps
   all of them to its own index) and lower case, also per character (so ``Σ`` always becomes ``σ``), in one
   ``str.translate`` through a table filled on first sight of each character;
2. removal of URLs (``http(s)://``, ``www.`` and common short links such as ``t.cn/xxxx``), ``@mentions``, Weibo
   emoticon codes (``[doge]``, ``[蜡烛]``) and keycap emoji;
3. removal of everything that is not a letter or a digit: punctuation (so ``#话题#`` keeps its inner text),
   whitespace, symbols and emoji, variation selectors, ZWJ, control and format characters; combining marks are kept
   only right after a kept character, and composed with it (NFC) when a precomposed character exists;
4. Traditional → Simplified Chinese with OpenCC ``t2s``, applied until nothing changes any more so that ``normalize``
   is idempotent (skipped for a text holding no character t2s can change: ``opencc_dicts``). OpenCC's dictionaries
   preserve length; should a conversion change the length all the same, the text is converted character by character
   so that offsets stay exact.

Conversion after removal means OpenCC's phrase context is the kept text (across removed punctuation), which is also
the context a second ``normalize`` sees. Emoji with a compatibility decomposition become
their letters by step 1 (``㊗`` → ``祝``, ``🈶`` → ``有``, ``ℹ`` → ``i``).

Offsets are non-decreasing, and strictly increasing unless a character expanded under NFKC or lower case
(``㍻`` → ``平成``, ``ﬁ`` → ``fi``, ``İ`` → ``i̇``).
"""

from __future__ import annotations

import logging
import re
import struct
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, chain

import opencc

from debunk.matching.opencc_dicts import changing_characters

__all__ = ["Normalized", "normalize", "normalize_segments", "normalize_text", "split_repost_chain"]


@dataclass(frozen=True, slots=True)
class Normalized:
    """A normalised text and, for each of its characters, the index of the original character that produced it."""

    text: str
    offsets: tuple[int, ...]

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span [s, e) of the normalised span [start, end); e is past the last character's source."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span [{start}, {end}) out of range for a normalised text of {len(self.text)}")
        offsets = self.offsets
        if start == end:
            if start < len(offsets):
                return offsets[start], offsets[start]
            edge = offsets[-1] + 1 if offsets else 0
            return edge, edge
        return offsets[start], offsets[end - 1] + 1


# --- NFKC + lower case, per character, through str.translate -------------------------------------------------------

_CACHE_MAX = 1 << 16  # distinct characters remembered by the lazy tables below (there are ~150k assigned ones)


def _fold_char(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).lower()


class _FoldTable(dict):
    """ord → folded text (or the same ord when unchanged), computed on first sight: str.translate looks keys up."""

    __slots__ = ()

    def __missing__(self, key: int) -> int | str:
        ch = chr(key)
        folded = _fold_char(ch)
        value: int | str = key if folded == ch else folded
        if len(self) < _CACHE_MAX:
            self[key] = value
        return value


_FOLD = _FoldTable()


# --- character classes, from one scan of planes 0 and 1 at import ----------------------------------------------------
# Outside planes 0 and 1 no character changes under NFKC + lower case but the CJK compatibility ideographs supplement
# (one to one), and the only combining marks are the variation selectors supplement (never kept): a test checks this.

_NOT_MARKS = frozenset([0x034F, 0x180B, 0x180C, 0x180D, 0x180F, *range(0xFE00, 0xFE10)])  # joiner, variation selectors


# ASCII that the removal patterns below can match (besides letters and digits): a character whose fold yields one of
# these must be folded before the removals run.
_PATTERN_ASCII = frozenset("-._~:?#$&+=%@/[]*")


def _scan() -> tuple[list[int], list[int], list[int]]:
    marks: list[int] = []
    expanding: list[int] = []
    changing: list[int] = []
    category = unicodedata.category
    for cp in range(0x20000):
        ch = chr(cp)
        if category(ch) in ("Mn", "Mc") and cp not in _NOT_MARKS:
            marks.append(cp)
        folded = _fold_char(ch)
        if len(folded) != 1:
            expanding.append(cp)
        if folded != ch:
            changing.append(cp)
    return marks, expanding, changing


def _matters(ch: str, folded: str, marks: frozenset[str]) -> bool:
    """Whether folding ch can change what normalize keeps: unless ch and its fold are both dropped (neither a letter,
    a digit nor a combining mark) and the fold holds nothing a removal pattern matches, leaving ch unfolded is the
    same."""
    return any(c.isalnum() or c in marks or c in _PATTERN_ASCII or c == "_" for c in ch + folded)


def _char_class(points: list[int]) -> str:
    ranges: list[list[int]] = []
    for cp in points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


_MARK_POINTS, _EXPANDING_POINTS, _CHANGING_POINTS = _scan()
_MARKS = frozenset(map(chr, _MARK_POINTS))
# Characters that must go through the fold table; the others (CJK, lower-case ASCII, full-width punctuation such as
# ，。！) come out of normalize the same folded or not, so a text holding none of these skips str.translate. Any
# character beyond the BMP is taken as one (a class with astral ranges would try them one by one for every character).
_FOLD_POINTS = [cp for cp in _CHANGING_POINTS if cp < 0x10000 and _matters(chr(cp), _fold_char(chr(cp)), _MARKS)]
_NEEDS_FOLD_BMP_RE = re.compile(f"[{_char_class(_FOLD_POINTS)}]")
_ASTRAL_MARKS = frozenset(c for c in _MARKS if c > "\uffff")
# A class of BMP characters compiles to a bitmap; astral ranges are tried one by one, so astral marks (hundreds of
# ranges) are looked up in a set instead. The astral expanding characters are ten ranges.
_BMP_MARK_RE = re.compile(f"[{_char_class([cp for cp in _MARK_POINTS if cp < 0x10000])}]")
_ASTRAL_RE = re.compile("[\\U00010000-\\U0010ffff]")


def _needs_fold(text: str) -> bool:
    return _NEEDS_FOLD_BMP_RE.search(text) is not None or _ASTRAL_RE.search(text) is not None


_BMP_EXPANDING_RE = re.compile(f"[{_char_class([cp for cp in _EXPANDING_POINTS if cp < 0x10000])}]")
_EXPANDING_RE = re.compile(f"[{_char_class(_EXPANDING_POINTS)}]")  # ten astral ranges after the BMP bitmap
# Runs of letters and digits ([^\W_] is str.isalnum: exactly the L* and N* categories), with or without the combining
# marks that follow them; split() with one group alternates dropped and kept runs.
_KEEP_SPLIT = re.compile(r"([^\W_]+)").split
_DROP_SUB = re.compile(r"[\W_]+").sub  # what _KEEP_SPLIT drops
_KEEP_WITH_MARKS_SPLIT = re.compile(rf"((?:[^\W_][{_char_class(_MARK_POINTS)}]*)+)").split


def _expanded_sources(text: str, base: int) -> list[int]:
    """Index in the original (plus base) of each character of text.translate(_FOLD), some characters having grown."""
    sources: list[int] = []
    previous = 0
    expanding = _EXPANDING_RE if _ASTRAL_RE.search(text) else _BMP_EXPANDING_RE
    for m in expanding.finditer(text):
        i = m.start()
        sources.extend(range(previous + base, i + base))
        sources.extend([i + base] * len(_FOLD[ord(m.group())]))
        previous = i + 1
    sources.extend(range(previous + base, len(text) + base))
    return sources


def _has_marks(text: str) -> bool:
    if _BMP_MARK_RE.search(text) is not None:
        return True
    return _ASTRAL_RE.search(text) is not None and not _ASTRAL_MARKS.isdisjoint(_ASTRAL_RE.findall(text))


# --- things removed as a whole (the text is already NFKC and lower case) ---------------------------------------------

_URL_TAIL = r"(?:[a-z0-9\-._~:?#$&+=%@]|/(?!/@))*"  # stops before a repost marker //@
_SHORT_HOSTS = (
    "t.cn",
    "dwz.cn",
    "url.cn",
    "w.url.cn",
    "sina.lt",
    "suo.im",
    "b23.tv",
    "m.tb.cn",
    "xhslink.com",
    "v.douyin.com",
    "bit.ly",
    "t.co",
    "goo.gl",
    "tinyurl.com",
    "is.gd",
    "ow.ly",
)
# Each host is followed by its own look-behind, rather than one look-behind before them all, so that the pattern starts
# with literals and the regex engine only tries the positions holding one of their first letters.
_SHORT_LINKS = "|".join(f"{re.escape(h)}(?<![a-z0-9\\-.]{re.escape(h)})" for h in _SHORT_HOSTS)
# (needle, pattern): a pattern runs only on a text holding its needle.
# The needle is a literal every match holds, so that most texts skip most patterns.
_REMOVALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("://", re.compile(rf"https?://{_URL_TAIL}")),
    ("www.", re.compile(rf"www\.(?<![a-z0-9\-.]www\.){_URL_TAIL}")),
    ("/", re.compile(rf"(?:{_SHORT_LINKS})/{_URL_TAIL}")),
    ("@", re.compile(r"@[\w\-]{1,30}")),  # Weibo nicknames: at most 30 letters, digits, _ and -
    ("[", re.compile(r"\[[^\W\d_]{1,8}\]")),  # Weibo emoticon codes: [doge], [蜡烛]
    ("\u20e3", re.compile("[0-9#*]\ufe0f?\u20e3")),  # keycap emoji: 1️⃣
)


def _blank_out(text: str, spans: list[tuple[int, int]]) -> str:
    """text with the (possibly overlapping) spans replaced by spaces, so that positions do not move."""
    spans.sort()
    chunks: list[str] = []
    position = 0
    for start, end in spans:
        if start > position:
            chunks.append(text[position:start])
            position = start
        if end > position:
            chunks.append(" " * (end - position))
            position = end
    chunks.append(text[position:])
    return "".join(chunks)


def _compose(text: str, offsets: list[int]) -> tuple[str, list[int]]:
    """Compose each kept combining mark with the character before it when Unicode has a precomposed form."""
    chars: list[str] = []
    kept: list[int] = []
    for ch, offset in zip(text, offsets, strict=True):
        if chars and ch in _MARKS:
            composed = unicodedata.normalize("NFC", chars[-1] + ch)
            if len(composed) == 1 and _fold_char(composed) == composed:
                chars[-1] = composed
                continue
        chars.append(ch)
        kept.append(offset)
    return "".join(chars), kept


# --- Traditional → Simplified ----------------------------------------------------------------------------------------

_T2S = opencc.OpenCC("t2s")
_T2S_PASSES = 4  # t2s is not idempotent on a few phrases (畢昇 → 毕昇 → 毕升); two passes settle them


def _t2s_skip_pattern() -> re.Pattern[str] | None:
    """The BMP characters t2s can change, as a class (a bitmap: one fast search); None if OpenCC's dictionaries
    could not be read, and then every text is converted (slower, never wrong)."""
    try:
        changing = changing_characters("t2s")
    except (OSError, ValueError, struct.error, UnicodeDecodeError):
        logging.getLogger(__name__).warning("OpenCC's t2s dictionaries unreadable: all text converted", exc_info=True)
        return None
    return re.compile(f"[{_char_class(sorted(ord(c) for c in changing if ord(c) < 0x10000))}]")


_T2S_CHANGING_BMP_RE = _t2s_skip_pattern()


def _may_change(text: str) -> bool:
    """False when t2s would leave the text as it is: no character it can change (astral ones are not looked up)."""
    if _T2S_CHANGING_BMP_RE is None:
        return True
    return _T2S_CHANGING_BMP_RE.search(text) is not None or _ASTRAL_RE.search(text) is not None


def _t2s_fixed_point(text: str) -> str | None:
    """t2s until nothing changes, or None if a conversion changed the length."""
    if not _may_change(text):
        return text
    for _ in range(_T2S_PASSES):
        converted = _T2S.convert(text)
        if converted == text:
            break
        if len(converted) != len(text):
            return None
        text = converted
    return text


@lru_cache(maxsize=_CACHE_MAX)
def _t2s_char(ch: str) -> str:
    converted = _t2s_fixed_point(ch)
    if converted is None:  # a single character became several: convert once, keep them all
        converted = _T2S.convert(ch)
    return converted or ch


def _t2s_by_char(text: str, offsets: list[int]) -> tuple[str, list[int]]:
    chars: list[str] = []
    kept: list[int] = []
    for ch, offset in zip(text, offsets, strict=True):
        converted = _t2s_char(ch)
        chars.append(converted)
        kept.extend([offset] * len(converted))
    return "".join(chars), kept


# --- public API ------------------------------------------------------------------------------------------------------


def _normalize(text: str, base: int) -> Normalized:
    if text.isascii():
        folded = text.lower()
        sources = None
    elif not _needs_fold(text):
        folded, sources = text, None
    else:
        folded = text.translate(_FOLD)
        sources = None if len(folded) == len(text) else _expanded_sources(text, base)
    cuts = [m.span() for needle, pattern in _REMOVALS if needle in folded for m in pattern.finditer(folded)]
    if cuts:
        folded = _blank_out(folded, cuts)
    has_marks = not folded.isascii() and _has_marks(folded)

    parts = (_KEEP_WITH_MARKS_SPLIT if has_marks else _KEEP_SPLIT)(folded)  # [dropped, kept, dropped, ..., dropped]
    out = "".join(parts[1::2])
    bounds = list(accumulate(map(len, parts), initial=base if sources is None else 0))
    indices = chain.from_iterable(map(range, bounds[1::2], bounds[2::2]))
    offsets = list(indices) if sources is None else list(map(sources.__getitem__, indices))

    if has_marks:
        out, offsets = _compose(out, offsets)
    if not out.isascii():
        converted = _t2s_fixed_point(out)
        if converted is None:
            out, offsets = _t2s_by_char(out, offsets)
        else:
            out = converted
    return Normalized(out, tuple(offsets))


def normalize(text: str) -> Normalized:
    """Letters, digits and CJK of text (simplified, lower case, half-width), each with its original index."""
    return _normalize(text, 0)


def normalize_text(text: str) -> str:
    """normalize(text).text, without the offsets (the matcher's hot path)."""
    if text.isascii():
        folded = text.lower()
    elif not _needs_fold(text):
        folded = text
    else:
        folded = text.translate(_FOLD)
    cuts = [m.span() for needle, pattern in _REMOVALS if needle in folded for m in pattern.finditer(folded)]
    if cuts:
        folded = _blank_out(folded, cuts)
    if not folded.isascii() and _has_marks(folded):
        return _normalize(text, 0).text
    out = _DROP_SUB("", folded)
    if not out.isascii():
        converted = _t2s_fixed_point(out)
        if converted is None:
            return _normalize(text, 0).text
        out = converted
    return out


_REPOST_RE = re.compile(r"//[@＠][^\s:：/@＠]{1,30}[:：]")


def split_repost_chain(text: str) -> list[tuple[int, int]]:
    """Original spans of the segments of a Weibo repost chain (``comment//@a: comment//@b:original``), in order.

    A segment runs from the start of the text or the end of a ``//@name:`` marker to the next marker; segments
    holding only whitespace are left out. Text without a marker is one span covering all of it.
    """
    bounds = [m.span() for m in _REPOST_RE.finditer(text)]
    if not bounds:
        return [(0, len(text))]
    starts = [0] + [e for _, e in bounds]
    ends = [s for s, _ in bounds] + [len(text)]
    return [(s, e) for s, e in zip(starts, ends, strict=True) if s < e and not text[s:e].isspace()]


def normalize_segments(text: str, whole: Normalized | None = None) -> list[Normalized]:
    """Each segment of split_repost_chain(text), normalised: the characters of the whole text's normalisation
    (`whole`, made here when not given) whose sources lie in the segment, offsets into the whole original text.

    Slicing the whole normalisation, rather than normalising each segment again, costs next to nothing. It differs
    from normalize(segment) only where Traditional → Simplified conversion of the whole text differs from the
    segment's alone: a phrase read across a removed marker (批//@a:覆 → 批复, where 覆 alone stays 覆)."""
    if whole is None:
        whole = normalize(text)
    offsets = whole.offsets
    out = []
    for start, end in split_repost_chain(text):
        i, j = bisect_left(offsets, start), bisect_left(offsets, end)
        out.append(Normalized(whole.text[i:j], offsets[i:j]))
    return out
