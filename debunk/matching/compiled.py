"""The matcher's inner loops, compiled with numba: from the code points of a batch's normalised parts to
scored (post, index row) pairs in one call, without numpy temporaries.

Each kernel has a numpy reference it must agree with exactly (tests/matching/test_compiled.py):

- n-gram hashes: `fingerprint.hash_ngrams` (code points packed into 64 bits, splitmix64, top 32 bits);
- signatures of parts and windows: `matcher._signatures` (datasketch's affine32 permutations, block minima);
- band keys: `index.band_keys`; the bucketed LSH table: `index.build_arrays`;
- exact Jaccard / containment: `fingerprint.jaccard` / `fingerprint.containment`.

Compiled once per machine (`cache=True` keeps the machine code next to this file, or in numba's cache
directory); `warm_up()` loads it so that a serving process's first request does not pay for it.
"""

import numpy as np
from numba import njit

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MAXU32 = np.uint32(0xFFFFFFFF)
_LOW32 = np.uint64(0xFFFFFFFF)


@njit(cache=True)
def hash_parts(cps, lengths):
    """Hashes of the 3-grams inside each part (parts laid end to end in `cps`), and where each part's start."""
    n = lengths.size
    hoff = np.zeros(n + 1, np.int64)
    for k in range(n):
        c = lengths[k] - 2
        hoff[k + 1] = hoff[k] + (c if c > 0 else 0)
    out = np.empty(hoff[n], np.uint32)
    pos = 0
    for k in range(n):
        base = hoff[k]
        for i in range(hoff[k + 1] - base):
            p = (
                (np.uint64(cps[pos + i]) << np.uint64(42))
                | (np.uint64(cps[pos + i + 1]) << np.uint64(21))
                | np.uint64(cps[pos + i + 2])
            )
            z = p ^ (p >> np.uint64(30))
            z = z * _M1
            z = z ^ (z >> np.uint64(27))
            z = z * _M2
            z = z ^ (z >> np.uint64(31))
            out[base + i] = np.uint32(z >> np.uint64(32))
        pos += lengths[k]
    return out, hoff


@njit(cache=True)
def _block_minima(hashes, start, end, a, b, out, first):
    """out[first + j] = the 128 permuted minima of n-grams [start + j*block, ...) for each block j."""
    width = a.size
    block = 12
    j = first
    i = start
    while i < end:
        stop = min(i + block, end)
        row = out[j]
        for p in range(width):
            row[p] = _MAXU32
        for t in range(i, stop):
            h = np.uint64(hashes[t])
            for p in range(width):
                v = np.uint32((h * a[p] + b[p]) & _LOW32)
                if v < row[p]:
                    row[p] = v
        i = stop
        j += 1


@njit(cache=True)
def signatures(hashes, hoff, lengths, whole, a64, b64, windows, short_text):
    """MinHash signatures of each part of at least `short_text` characters, then of the windows of long
    whole parts (per window size, in part order), with the part each belongs to: the order and values of
    `matcher._signatures`."""
    block = 12
    nparts = lengths.size
    width = a64.size
    boff = np.zeros(nparts + 1, np.int64)
    for k in range(nparts):
        boff[k + 1] = boff[k] + (hoff[k + 1] - hoff[k] + block - 1) // block
    blocks = np.empty((boff[nparts], width), np.uint32)
    for k in range(nparts):
        _block_minima(hashes, hoff[k], hoff[k + 1], a64, b64, blocks, boff[k])
    count = 0
    for k in range(nparts):
        if lengths[k] >= short_text and hoff[k + 1] > hoff[k]:
            count += 1
    for w in range(windows.shape[0]):
        window, stride = windows[w, 0], windows[w, 1]
        per, step = window // block, stride // block
        for k in range(nparts):
            grams = hoff[k + 1] - hoff[k]
            if whole[k] and grams > window * 1.2:
                nb = boff[k + 1] - boff[k]
                j = 0
                while j + per <= nb:
                    count += 1
                    j += step
    sigs = np.empty((count, width), np.uint32)
    owner = np.empty(count, np.int64)
    m = 0
    for k in range(nparts):
        if lengths[k] >= short_text and hoff[k + 1] > hoff[k]:
            row = sigs[m]
            for p in range(width):
                row[p] = _MAXU32
            for j in range(boff[k], boff[k + 1]):
                blk = blocks[j]
                for p in range(width):
                    if blk[p] < row[p]:
                        row[p] = blk[p]
            owner[m] = k
            m += 1
    for w in range(windows.shape[0]):
        window, stride = windows[w, 0], windows[w, 1]
        per, step = window // block, stride // block
        for k in range(nparts):
            grams = hoff[k + 1] - hoff[k]
            if whole[k] and grams > window * 1.2:
                nb = boff[k + 1] - boff[k]
                j = 0
                while j + per <= nb:
                    row = sigs[m]
                    for p in range(width):
                        row[p] = _MAXU32
                    for q in range(boff[k] + j, boff[k] + j + per):
                        blk = blocks[q]
                        for p in range(width):
                            if blk[p] < row[p]:
                                row[p] = blk[p]
                    owner[m] = k
                    m += 1
                    j += step
    return sigs, owner


@njit(cache=True)
def band_keys(sigs, mult, salt):
    """(m, 128) signatures → (m, bands) salted band keys: `index.band_keys`."""
    bands, rows = salt.size, mult.size
    keys = np.empty((sigs.shape[0], bands), np.uint64)
    for s in range(sigs.shape[0]):
        for t in range(bands):
            key = np.uint64(0)
            for r in range(rows):
                key += np.uint64(sigs[s, t * rows + r]) * mult[r]
            keys[s, t] = key ^ salt[t]
    return keys


@njit(cache=True)
def _grow(buf, size):
    if size < buf.size:
        return buf
    bigger = np.empty(buf.size * 2, buf.dtype)
    bigger[: buf.size] = buf
    return bigger


@njit(cache=True)
def lsh_pairs(keys, key_post, shift, lsh_filter, lsh_off, lsh_tags, lsh_rows, dead):
    """Unique (post << 32 | row) codes of the snapshot rows sharing a band key with a post's signatures.

    A key whose low bits have no bit in the filter is stored nowhere (most keys: `index.key_filter`). Else its
    bucket is its top bits (keys >> shift); the bucket's entries hold the key's low 32 bits as a tag, so a
    lookup is two offset reads and a short scan. All buckets are located first, then scanned: independent
    loads that the processor overlaps, where one loop would wait on each bucket in turn."""
    bands = keys.shape[1]
    flat = keys.ravel()
    count = flat.size
    mask = np.uint64(lsh_filter.size * 64 - 1)
    lo = np.zeros(count, np.int64)
    hi = np.zeros(count, np.int64)
    for i in range(count):
        low = flat[i] & mask
        if (lsh_filter[np.int64(low >> np.uint64(6))] >> (low & np.uint64(63))) & np.uint64(1):
            bucket = np.int64(flat[i] >> np.uint64(shift))
            lo[i] = lsh_off[bucket]
            hi[i] = lsh_off[bucket + 1]
    buf = np.empty(max(64, count), np.int64)
    n = 0
    for i in range(count):
        tag = np.uint32(flat[i] & _LOW32)
        for j in range(lo[i], hi[i]):
            if lsh_tags[j] == tag:
                row = lsh_rows[j]
                if not dead[row]:
                    buf = _grow(buf, n)
                    buf[n] = (np.int64(key_post[i // bands]) << 32) | np.int64(row)
                    n += 1
    return _unique_sorted(buf[:n])


@njit(cache=True)
def _unique_sorted(codes):
    codes = np.sort(codes)
    n = 0
    for i in range(codes.size):
        if i == 0 or codes[i] != codes[i - 1]:
            codes[n] = codes[i]
            n += 1
    return codes[:n]


@njit(cache=True)
def exact_pairs(part_keys, part_post, exact_keys, exact_rows, dead):
    """Unique (post << 32 | row) codes of the snapshot rows whose exact normalised text is a post's part's."""
    buf = np.empty(max(8, part_keys.size), np.int64)
    n = 0
    size = exact_keys.size
    for k in range(part_keys.size):
        key = part_keys[k]
        j = np.searchsorted(exact_keys, key)
        while j < size and exact_keys[j] == key:
            row = exact_rows[j]
            if not dead[row]:
                buf = _grow(buf, n)
                buf[n] = (np.int64(part_post[k]) << 32) | np.int64(row)
                n += 1
            j += 1
    return _unique_sorted(buf[:n])


@njit(cache=True)
def intersection_size(x, y):
    """|x ∩ y| of two sorted unique arrays, by merging."""
    i = j = n = 0
    nx, ny = x.size, y.size
    while i < nx and j < ny:
        u, v = x[i], y[j]
        if u < v:
            i += 1
        elif v < u:
            j += 1
        else:
            n += 1
            i += 1
            j += 1
    return n


@njit(cache=True)
def _sorted_unique_into(src, dst):
    """dst[:n] = sorted unique values of src; returns n."""
    dst[: src.size] = src
    view = dst[: src.size]
    view.sort()
    n = 0
    for i in range(view.size):
        if i == 0 or view[i] != view[i - 1]:
            view[n] = view[i]
            n += 1
    return n


@njit(cache=True)
def score_pairs(codes, exact_codes, hashes, hoff, post_parts, short, sh_off, sh_data, min_score):
    """Exact Jaccard (best over a post's parts) and containment (of the rumor in the post's whole part,
    its first) for each candidate (post, row) code; short rows score 1.0 on an exact hit, else 0. Keeps
    the pairs reaching min_score: (posts, rows, similarities, containments)."""
    m = codes.size
    out_post = np.empty(m, np.int64)
    out_row = np.empty(m, np.int64)
    out_sim = np.empty(m, np.float64)
    out_cont = np.empty(m, np.float64)
    sets = np.empty(max(1, hashes.size), np.uint32)
    soff = np.zeros(hoff.size, np.int64)  # scratch: where each part of the current post starts in `sets`
    slen = np.zeros(hoff.size, np.int64)
    current = -1
    n = 0
    for c in range(m):
        post = codes[c] >> 32
        row = codes[c] & 0xFFFFFFFF
        first, last = post_parts[post], post_parts[post + 1]
        if post != current:
            current = post
            at = 0
            for k in range(first, last):
                soff[k] = at
                slen[k] = _sorted_unique_into(hashes[hoff[k] : hoff[k + 1]], sets[at:])
                at += slen[k]
        if short[row]:
            j = np.searchsorted(exact_codes, codes[c])
            sim = 1.0 if j < exact_codes.size and exact_codes[j] == codes[c] else 0.0
            cont = sim
        else:
            rumor = sh_data[sh_off[row] : sh_off[row + 1]]
            sim = 0.0
            cont = 0.0
            for k in range(first, last):
                own = sets[soff[k] : soff[k] + slen[k]]
                if own.size == 0 or rumor.size == 0:
                    inter = 0
                    jac = 0.0
                else:
                    inter = intersection_size(own, rumor)
                    jac = inter / (own.size + rumor.size - inter)
                if jac > sim:
                    sim = jac
                if k == first and rumor.size > 0:
                    cont = inter / rumor.size
        if max(sim, cont) >= min_score:
            out_post[n], out_row[n], out_sim[n], out_cont[n] = post, row, sim, cont
            n += 1
    return out_post[:n], out_row[:n], out_sim[:n], out_cont[:n]


@njit(cache=True)
def merge_codes(x, y):
    """Sorted unique union of two sorted unique code arrays."""
    out = np.empty(x.size + y.size, np.int64)
    i = j = n = 0
    while i < x.size or j < y.size:
        if j >= y.size or (i < x.size and x[i] < y[j]):
            v = x[i]
            i += 1
        elif i >= x.size or y[j] < x[i]:
            v = y[j]
            j += 1
        else:
            v = x[i]
            i += 1
            j += 1
        out[n] = v
        n += 1
    return out[:n]


@njit(cache=True)
def match_parts(
    cps,
    lengths,
    whole,
    part_post,
    post_parts,
    part_keys,
    a64,
    b64,
    windows,
    short_text,
    mult,
    salt,
    shift,
    lsh_filter,
    lsh_off,
    lsh_tags,
    lsh_rows,
    exact_keys,
    exact_rows,
    dead,
    short,
    sh_off,
    sh_data,
    min_score,
):
    """The whole snapshot match of a batch's parts: n-gram hashes, signatures, band lookups, exact-text
    lookups and exact scores. Returns the kept (post, row, similarity, containment) and, for the deltas,
    the band keys with their posts and the n-gram hashes with their part offsets."""
    hashes, hoff = hash_parts(cps, lengths)
    sigs, owner = signatures(hashes, hoff, lengths, whole, a64, b64, windows, short_text)
    keys = band_keys(sigs, mult, salt)
    key_post = part_post[owner]
    codes = lsh_pairs(keys, key_post, shift, lsh_filter, lsh_off, lsh_tags, lsh_rows, dead)
    exact = exact_pairs(part_keys, part_post, exact_keys, exact_rows, dead)
    codes = merge_codes(codes, exact)
    post, row, sim, cont = score_pairs(codes, exact, hashes, hoff, post_parts, short, sh_off, sh_data, min_score)
    return post, row, sim, cont, keys, key_post, hashes, hoff


@njit(cache=True)
def _find(values, x):
    """The index of x in the sorted array, or -1."""
    lo, hi = 0, values.size
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < values.size and values[lo] == x else -1


@njit(cache=True)
def evidence_runs(grams, goff, pair_post, rsets, roff, rfirst, pair_rumor, size, min_length, top):
    """For each (post, rumor) pair, its `top` longest runs of consecutive post n-grams that all occur in the rumor,
    longest first and ties in post order, runs shorter than `min_length` characters left out: rows of
    (post start, length in characters, rumor start) with -1 where fewer runs were found.

    Post p's n-grams are grams[goff[p]:goff[p + 1]] in text order; rumor r's sorted unique n-grams are
    rsets[roff[r]:roff[r + 1]], with where each first occurs in the rumor at the same positions in `rfirst`."""
    npairs = pair_post.size
    out = np.full((npairs, top, 3), -1, np.int64)
    for q in range(npairs):
        p, r = pair_post[q], pair_rumor[q]
        g0, g1 = goff[p], goff[p + 1]
        rset = rsets[roff[r] : roff[r + 1]]
        n = g1 - g0
        starts = np.empty(n, np.int64)
        lengths = np.empty(n, np.int64)
        m = 0
        run = -1
        for i in range(n + 1):
            inside = i < n and _find(rset, grams[g0 + i]) >= 0
            if inside:
                if run < 0:
                    run = i
            elif run >= 0:
                length = i - 1 - run + size
                if length >= min_length:
                    starts[m], lengths[m] = run, length
                    m += 1
                run = -1
        for slot in range(min(top, m)):  # selection: the longest left, the first of equals
            best = 0
            for j in range(1, m):
                if lengths[j] > lengths[best]:
                    best = j
            out[q, slot, 0] = starts[best]
            out[q, slot, 1] = lengths[best]
            out[q, slot, 2] = rfirst[roff[r] + _find(rset, grams[g0 + starts[best]])]
            lengths[best] = -1
    return out


def warm_up() -> None:
    """Load (or compile) the kernels now rather than on a first request."""
    from debunk.matching.index import MatchIndex
    from debunk.matching.matcher import evidence, score_batch
    from debunk.matching.normalize import normalize

    text = "预热一下编译好的匹配内核，这是一段足够长的文字" * 12
    score_batch(MatchIndex(), [text])
    evidence(normalize(text), text)


# ---- the claim index (debunk.matching.claims) --------------------------------------------------------------------


@njit(cache=True)
def claim_cells(
    qoff,
    qcol,
    qnorm,
    idf,
    inv_max,
    inv_indptr,
    inv_indices,
    inv_data,
    tnorms,
    fwd_indptr,
    fwd_indices,
    dead,
    w,
    floor,
    budget,
):
    """The (post, text) cells of a batch scoring above `floor` in the claim index, exactly as the sparse product of
    `ClaimIndex.search_reference` scores them (P = Σ idf² / |t| over the shared terms; score = w × min(P / |q|, 1)
    + (1 − w) × min(P / |t|, 1)), without visiting most of the posting lists (MaxScore).

    Post q's distinct snapshot terms are qcol[qoff[q]:qoff[q + 1]]. A term j adds at most
    ub_j = w × idf_j × m_j / |q| + (1 − w) × m_j² to the score of any text (m_j = inv_max[j], the largest
    idf_j / |t| of its posting list). The longest posting lists are set aside while their bounds sum to at most
    `floor` (no text reaches it on them alone); the others' posting lists are added up into a dense accumulator
    (with the list of texts touched), and a touched text that may still reach `floor` gets the set-aside terms it
    has added exactly, from its forward list (sorted by term, merged with the sorted set-aside terms). The set-aside
    bounds add up to at most `budget` × `floor`: the smaller, the fewer candidates to complete, the more postings
    visited. Returns (post, text, containment, score) arrays."""
    nq = qoff.size - 1
    acc = np.zeros(tnorms.size, np.float64)
    touched = np.empty(tnorms.size, np.int64)
    cap = 1024
    out_q = np.empty(cap, np.int64)
    out_t = np.empty(cap, np.int64)
    out_ct = np.empty(cap, np.float64)
    out_s = np.empty(cap, np.float64)
    found = 0
    for q in range(nq):
        a, b = qoff[q], qoff[q + 1]
        if a == b:
            continue
        nrm = qnorm[q]
        m = b - a
        lengths = np.empty(m, np.int64)
        for i in range(m):
            j = qcol[a + i]
            lengths[i] = inv_indptr[j + 1] - inv_indptr[j]
        order = np.argsort(-lengths, kind="mergesort")
        aside = 0.0  # the set-aside terms' bounds
        n_aside = 0
        for i in range(m):
            j = qcol[a + order[i]]
            mj = np.float64(inv_max[j])
            ub = w * np.float64(idf[j]) * mj / nrm + (1.0 - w) * mj * mj
            if aside + ub >= budget * floor * (1.0 - 1e-9) or floor <= 0.0:
                break
            aside += ub
            n_aside += 1
        aside_cols = np.sort(qcol[a + order[:n_aside]])  # merged with a candidate's forward list (sorted)
        nt = 0
        for i in range(n_aside, m):
            j = qcol[a + order[i]]
            f = np.float64(idf[j])
            for p in range(inv_indptr[j], inv_indptr[j + 1]):
                t = inv_indices[p]
                if acc[t] == 0.0:
                    touched[nt] = t
                    nt += 1
                acc[t] += f * np.float64(inv_data[p])
        for i in range(nt):
            t = touched[i]
            p_sum = acc[t]
            acc[t] = 0.0
            if dead[t]:
                continue
            tn = np.float64(tnorms[t])
            if n_aside:
                if w * p_sum / nrm + (1.0 - w) * p_sum / tn + aside <= floor:
                    continue
                extra = 0.0
                k, end, x = fwd_indptr[t], fwd_indptr[t + 1], 0
                while k < end and x < n_aside:
                    c = fwd_indices[k]
                    if c < aside_cols[x]:
                        k += 1
                    elif c > aside_cols[x]:
                        x += 1
                    else:
                        extra += np.float64(idf[c]) * np.float64(idf[c])
                        k += 1
                        x += 1
                p_sum += extra / tn
            cos = p_sum / nrm
            if cos > 1.0:
                cos = 1.0
            ct = p_sum / tn
            if ct > 1.0:
                ct = 1.0
            score = w * cos + (1.0 - w) * ct
            if score <= floor:
                continue
            if found == cap:
                cap *= 2
                out_q = _grow_i(out_q, cap)
                out_t = _grow_i(out_t, cap)
                out_ct = _grow_f(out_ct, cap)
                out_s = _grow_f(out_s, cap)
            out_q[found] = q
            out_t[found] = t
            out_ct[found] = ct
            out_s[found] = score
            found += 1
    return out_q[:found], out_t[:found], out_ct[:found], out_s[:found]


@njit(cache=True)
def _grow_i(buf, size):
    out = np.empty(size, np.int64)
    out[: buf.size] = buf
    return out


@njit(cache=True)
def _grow_f(buf, size):
    out = np.empty(size, np.float64)
    out[: buf.size] = buf
    return out


@njit(cache=True)
def _same_span(codes, s1, e1, s2, e2):
    if e1 - s1 != e2 - s2:
        return False
    i = 0
    while i < e1 - s1 and codes[s1 + i] == codes[s2 + i]:
        i += 1
    return i == e1 - s1


@njit(cache=True)
def claim_evidence(hit_q, hit_t, qoff, occ_col, occ_start, occ_end, codes, idf, fwd_indptr, fwd_indices, top):
    """The evidence of each (post, snapshot text) hit, exactly as `ClaimIndex._evidence_reference` finds it: the
    post's stretches made of occurrences of terms the text has (overlapping occurrences join a stretch), ranked by
    the highest IDF of a term in the stretch, then longer first, then earlier; the first `top` distinct stretches
    (as strings: spans of `codes` compared code point by code point).

    Post q's occurrences are rows qoff[q]:qoff[q + 1] of occ_col (the term's vocabulary column, -1 for a term the
    snapshot does not index), occ_start and occ_end, sorted by start. The text's columns are sorted
    (fwd_indices[fwd_indptr[t]:fwd_indptr[t + 1]]). Returns (start, end) arrays of shape (hits, top) and the count
    per hit."""
    nh = hit_q.size
    ev_s = np.zeros((nh, top), np.int64)
    ev_e = np.zeros((nh, top), np.int64)
    ev_n = np.zeros(nh, np.int64)
    for h in range(nh):
        q, t = hit_q[h], hit_t[h]
        a, b = qoff[q], qoff[q + 1]
        lo, hi = fwd_indptr[t], fwd_indptr[t + 1]
        m = b - a
        heads = np.empty(m, np.int64)
        reach = np.empty(m, np.int64)
        best = np.empty(m, np.float64)
        ns = 0
        for r in range(a, b):
            c = occ_col[r]
            if c < 0 or lo == hi:
                continue
            x, y = lo, hi  # lower bound of c in the text's sorted columns
            while x < y:
                mid = (x + y) >> 1
                if fwd_indices[mid] < c:
                    x = mid + 1
                else:
                    y = mid
            if x == hi or fwd_indices[x] != c:
                continue
            s, e, wgt = occ_start[r], occ_end[r], np.float64(idf[c])
            if ns == 0 or s >= reach[ns - 1]:
                heads[ns] = s
                reach[ns] = e
                best[ns] = wgt
                ns += 1
            else:
                if e > reach[ns - 1]:
                    reach[ns - 1] = e
                if wgt > best[ns - 1]:
                    best[ns - 1] = wgt
        used = np.zeros(ns, np.bool_)
        got = 0
        for _ in range(ns):
            if got == top:
                break
            pick = -1
            for i in range(ns):
                if used[i]:
                    continue
                if pick < 0:
                    pick = i
                    continue
                li, lp = reach[i] - heads[i], reach[pick] - heads[pick]
                longer = li > lp or (li == lp and heads[i] < heads[pick])
                if best[i] > best[pick] or (best[i] == best[pick] and longer):
                    pick = i
            used[pick] = True
            dup = False
            for g in range(got):
                if _same_span(codes, ev_s[h, g], ev_e[h, g], heads[pick], reach[pick]):
                    dup = True
                    break
            if not dup:
                ev_s[h, got] = heads[pick]
                ev_e[h, got] = reach[pick]
                got += 1
        ev_n[h] = got
    return ev_s, ev_e, ev_n


@njit(cache=True)
def bucket_lookup(vocab, off, shift, ids):
    """(position, found) of each id in the sorted vocabulary, as `claims._lookup` (a binary search over the whole
    vocabulary) finds them: the insertion point, clipped to the last position. The id's top bits pick its bucket,
    vocab[off[b]:off[b + 1]] (the ids whose top bits are b), and the binary search runs inside it (tens of ids)."""
    n = ids.size
    pos = np.zeros(n, np.int64)
    found = np.zeros(n, np.bool_)
    size = vocab.size
    if size == 0:
        return pos, found
    for i in range(n):
        x = ids[i]
        b = np.int64(x >> np.uint64(shift))
        lo, hi = off[b], off[b + 1]
        while lo < hi:
            mid = (lo + hi) >> 1
            if vocab[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        if lo >= size:
            lo = size - 1
        pos[i] = lo
        found[i] = vocab[lo] == x
    return pos, found
