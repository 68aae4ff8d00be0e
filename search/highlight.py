"""Highlighting on the original text: escaped HTML with the query's terms in <mark>, around the densest matches."""

from __future__ import annotations

import re

from django.utils.html import escape

from search.analysis import clean, fold_with_offsets, is_cjk_char, tokens

MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"


def match_spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    """Merged [start, end) spans of the original text where one of the terms occurs."""
    folded, offsets = fold_with_offsets(clean(text))
    found = [(t.start, t.end) for t in tokens(folded) if t.term in terms]
    for char in (t for t in terms if is_cjk_char(t)):  # a one-character query: every occurrence, inside words too
        found.extend((m.start(), m.end()) for m in re.finditer(re.escape(char), folded))
    spans: list[tuple[int, int]] = []
    for first, last in sorted(found):
        start, end = offsets[first], offsets[last - 1] + 1
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def highlight(text: str, terms: set[str], *, max_chars: int = 160) -> str | None:
    """A snippet of at most about max_chars characters (the whole text when it fits), None without a match."""
    spans = match_spans(text, terms)
    if not spans:
        return None
    start, end = 0, len(text)
    if end > max_chars:
        best, best_count = 0, 0
        for i, (s, _e) in enumerate(spans):  # the window starting at a match that holds the most matches
            count = sum(1 for s2, _ in spans[i:] if s2 < s + max_chars)
            if count > best_count:
                best, best_count = i, count
        start = max(0, spans[best][0] - max_chars // 5)
        end = min(len(text), start + max_chars)
        start = max(0, min(start, end - max_chars))
    out = ["…" if start > 0 else ""]
    position = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out += [escape(text[position:s]), MARK_OPEN, escape(text[s:e]), MARK_CLOSE]
        position = e
    out.append(escape(text[position:end]))
    out.append("…" if end < len(text) else "")
    return "".join(out)
