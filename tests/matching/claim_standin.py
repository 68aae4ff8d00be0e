"""A stand-in for `calibration.claim_candidates` with its answer's shape, for tests of the evaluation and calibration
mechanics (the claim index itself is tested in tests/matching/test_claims.py)."""


def bigram_scores(rumor_texts: dict[int, str], texts: list[str], *, k: int = 5, progress=None, **_) -> dict:
    """Per text, the rumors sharing its character bigrams, scored by the share of each rumor's bigrams found."""
    grams = {rid: {t[i : i + 2] for i in range(len(t) - 1)} for rid, t in rumor_texts.items()}
    out = {}
    for text in texts:
        have = {text[i : i + 2] for i in range(len(text) - 1)}
        scored = sorted(((rid, len(g & have) / len(g)) for rid, g in grams.items()), key=lambda p: (-p[1], p[0]))
        out[text] = [(rid, round(s, 4)) for rid, s in scored if s > 0][:k]
    return out
