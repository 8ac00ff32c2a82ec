"""Identify which known license (family and exact version) a text contains.

Algorithm
---------
1. The text is normalised to word tokens (:mod:`.normalize`) and cut into 5-shingles.
2. One pass over the inverted index (:mod:`.index`) finds, per reference, which of its
   shingles occur and where. ``coverage`` is the share of the reference's shingles found.
3. References with enough evidence (``MIN_MATCHED`` shingles, ``MIN_COVERAGE``) are
   candidates. Those within half of the best match count are decided **pairwise on the
   passages that differ**: for references A and B, the shingles only A has and the
   shingles only B has; the share of each found in the text is the evidence for A and for
   B. Siblings such as Llama 3.1 and 3.2 (word similarity 0.987) differ in a few dozen
   shingles, which decide the version where a global similarity threshold could not.
   When both sides' own passages are largely present (a license followed by its AUP, two
   licenses in one file), the two coexist and each gets a span of its own.
4. The winner's matched positions are clustered into spans; its positions are claimed
   and the next round looks for another license in what is left (at most ``MAX_SPANS``).
5. Below ``MIN_MARGIN`` the verdict is ``unknown``, with the candidates (and the family
   when all of them share one): never a confident wrong answer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import numpy as np

from ..catalog.registry import LicenseEntry
from .index import SHINGLE, LicenseIndex, load_index
from .normalize import offsets_from_parts, split_tokens

MIN_MATCHED = 15          # shingles of a reference that must occur
MIN_COVERAGE = 0.25       # share of a reference's shingles that must occur for a verdict
CANDIDATE_COVERAGE = 0.08  # share needed to be listed as a candidate
MIN_MARGIN = 0.2          # decision margin below which the verdict is `unknown`
COMPLETE_COVERAGE = 0.9   # coverage from which a copy counts as complete
NEAR_FACTOR = 0.5         # candidates within this factor of the best match are decided pairwise
COEXIST = 0.5             # both sides' own passages at least this present: two licenses
MAX_SPANS = 4
CLUSTER_GAP = 60          # tokens between matches that split a span
MODIFIED_MIN_TOKENS = 20  # a passage at least this long (and MODIFIED_SHARE of the reference)
MODIFIED_SHARE = 0.08     # added or removed inside the text makes it a modified licence


@dataclass
class Candidate:
    """A reference the text resembles, with its evidence."""

    license: str
    family: str
    version: Optional[str]
    coverage: float
    matched: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Span:
    """Where in the text a license was found (character offsets, 1-based lines)."""

    license: str
    kind: str
    start: int
    end: int
    start_line: int
    end_line: int
    coverage: float
    score: float
    margin: float
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Match:
    """The result of matching one text against the index."""

    license: str = "unknown"
    entry: Optional[LicenseEntry] = None
    score: float = 0.0
    margin: float = 0.0
    coverage: float = 0.0
    complete: bool = False
    family: Optional[str] = None
    spans: list[Span] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)


def _round(x: float) -> float:
    return round(float(x), 4)


class _Round:
    """Evidence for one matching round (input positions not claimed by an earlier span).

    Shingles are integer ids; the index keeps a (references x shingles) membership matrix,
    so counts, found sets and positions are vectorised (numpy).
    """

    def __init__(self, index: LicenseIndex, ids: np.ndarray, hit_pos: np.ndarray,
                 claimed: list[tuple[int, int]]) -> None:
        self.index = index
        self.ids = ids
        if claimed:
            keep = np.ones(len(hit_pos), dtype=bool)
            for lo, hi in claimed:
                keep &= (hit_pos < lo) | (hit_pos > hi)
            hit_pos = hit_pos[keep]
        self.pos = hit_pos
        present = np.zeros(len(index.post), dtype=bool)
        present[ids[hit_pos]] = True
        self.distinct = np.flatnonzero(present)
        counts = index.member_t[self.distinct].sum(axis=0)
        nz = np.flatnonzero(counts)
        self.counts: dict[int, int] = dict(zip(nz.tolist(), counts[nz].tolist()))
        self._positions: dict[int, np.ndarray] = {}
        self._regions: dict[int, tuple[int, int]] = {}

    def positions(self, r: int) -> np.ndarray:
        got = self._positions.get(r)
        if got is None:
            got = self._positions[r] = self.pos[self.index.member[r][self.ids[self.pos]]]
        return got

    def matched(self, r: int) -> int:
        return self.counts.get(r, 0)

    def coverage(self, r: int) -> float:
        return self.matched(r) / max(1, int(self.index.sizes[r]))

    def region(self, r: int) -> tuple[int, int]:
        """Robust extent (2nd to 98th percentile of matched positions) of reference r in the input."""
        got = self._regions.get(r)
        if got is None:
            ps = self.positions(r)
            k = len(ps) // 50
            got = (int(ps[k]), int(ps[len(ps) - 1 - k]))
            self._regions[r] = got
        return got

    def _distinct(self, r: int, mask: np.ndarray | None, inside: tuple[int, int] | None = None,
                  outside: tuple[int, int] | None = None) -> int:
        """Distinct shingles of r found (optionally only those in ``mask``, inside or outside a region)."""
        p = self.positions(r)
        if inside is not None:
            p = p[(p >= inside[0]) & (p <= inside[1])]
        if outside is not None:
            p = p[(p < outside[0]) | (p > outside[1])]
        x = self.ids[p]
        if mask is not None:
            x = x[mask[x]]
        return int(np.unique(x).size)

    def compare(self, a: int, b: int) -> tuple[int, float, bool]:
        """(winner, margin, coexist) of references a and b, decided on the passages that differ.

        * Two references matching different parts of the input coexist (license + AUP).
        * Where one extends well beyond the other (a license+AUP reference against a plain
          license), the evidence is counted in the part both match; with no differing passage
          there, the one that explains more of the input wins.
        * Otherwise (siblings over the same text) the share of each side's own passages found
          decides.
        """
        lo_a, hi_a = self.region(a)
        lo_b, hi_b = self.region(b)
        lo, hi = max(lo_a, lo_b), min(hi_a, hi_b)
        len_a, len_b = max(1, hi_a - lo_a), max(1, hi_b - lo_b)
        if hi < lo or (hi - lo) < 0.3 * min(len_a, len_b):
            return (a if self.matched(a) >= self.matched(b) else b), 1.0, True
        only_a, n_only_a = self.index.only_mask(a, b)
        only_b, n_only_b = self.index.only_mask(b, a)
        if (hi - lo) < 0.8 * max(len_a, len_b):
            ha = self._distinct(a, only_a, inside=(lo, hi))
            hb = self._distinct(b, only_b, inside=(lo, hi))
            if max(ha, hb) >= SHINGLE:
                margin = abs(ha - hb) / (ha + hb + SHINGLE)
                return (a, margin, False) if ha >= hb else (b, margin, False)
            ea = self._distinct(a, None, outside=(lo, hi))
            eb = self._distinct(b, None, outside=(lo, hi))
            m = max(self.matched(a), self.matched(b), 1)
            return (a, (ea - eb) / m, False) if ea >= eb else (b, (eb - ea) / m, False)
        ha = int(only_a[self.distinct].sum())
        hb = int(only_b[self.distinct].sum())
        fa = ha / (n_only_a + 1)
        fb = hb / (n_only_b + 1)
        if fa >= COEXIST and fb >= COEXIST and ha >= MIN_MATCHED and hb >= MIN_MATCHED:
            winner = a if self.matched(a) >= self.matched(b) else b
            return winner, 1.0, True
        if ha == 0 and hb == 0:
            # no distinguishing passage present: the one that explains more of itself wins
            ca, cb = self.coverage(a), self.coverage(b)
            top = max(ca, cb) or 1.0
            return (a if ca >= cb else b), abs(ca - cb) / top, False
        # the side with more of its own passages present wins; a truncated copy keeps the
        # passages it has, so counts (not shares of each side's total) decide
        margin = abs(ha - hb) / (ha + hb + SHINGLE)
        return (a, margin, False) if ha >= hb else (b, margin, False)


def _line_of(text: str, offset: int, cache: list[int]) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1


def _clusters(positions: list[int]) -> list[tuple[int, int, int]]:
    """Group sorted, distinct positions into (first, last, count) clusters split at gaps."""
    ps = np.asarray(positions)
    cuts = np.flatnonzero(np.diff(ps) > CLUSTER_GAP) + 1
    bounds = [0, *cuts.tolist(), len(ps)]
    plist = positions if isinstance(positions, list) else ps.tolist()
    out = [(plist[i], plist[j - 1], j - i) for i, j in zip(bounds, bounds[1:])]
    return [_trim(plist, c) for c in out]


def _trim(ps: list[int], cluster: tuple[int, int, int]) -> tuple[int, int, int]:
    """Drop sparse edge matches (a shared phrase or URL bleeding into a neighbouring text)."""
    import bisect

    first, last, count = cluster
    lo_i, hi_i = bisect.bisect_left(ps, first), bisect.bisect_right(ps, last) - 1
    while hi_i - lo_i >= 3 and bisect.bisect_left(ps, ps[hi_i] - 20, lo_i, hi_i + 1) > hi_i - 2:
        hi_i -= 1
    while hi_i - lo_i >= 3 and bisect.bisect_right(ps, ps[lo_i] + 20, lo_i, hi_i + 1) < lo_i + 3:
        lo_i += 1
    return ps[lo_i], ps[hi_i], hi_i - lo_i + 1


def match_text(text: str, index: LicenseIndex | None = None) -> Match:
    """Match ``text`` against the reference index; see the module docstring."""
    index = index or load_index()
    toks, parts = split_tokens(text)
    if len(toks) < MIN_MATCHED + SHINGLE - 1:
        return Match()
    ids = index.lookup(toks)
    hit_pos = np.nonzero(ids >= 0)[0]
    if len(hit_pos) < MIN_MATCHED:
        return Match()

    result = Match()
    claimed: list[tuple[int, int]] = []
    offsets = None
    line_cache: list[int] = []
    candidates: dict[int, tuple[float, int]] = {}
    first = True
    span_refs: list[tuple[int, list[int]]] = []
    for _ in range(MAX_SPANS):
        if claimed:
            left = np.ones(len(hit_pos), dtype=bool)
            for lo_c, hi_c in claimed:
                left &= (hit_pos < lo_c) | (hit_pos > hi_c)
            if int(left.sum()) < MIN_MATCHED:
                break  # too little left for another license
        rnd = _Round(index, ids, hit_pos, claimed)
        if not rnd.counts:
            break
        if first:
            for r, m in rnd.counts.items():
                cov = rnd.coverage(r)
                if m >= MIN_MATCHED and cov >= CANDIDATE_COVERAGE:
                    candidates[r] = (cov, m)
        eligible = [r for r, m in rnd.counts.items() if m >= MIN_MATCHED and rnd.coverage(r) >= MIN_COVERAGE]
        if not eligible:
            break
        top_m = max(rnd.matched(r) for r in eligible)
        near = sorted((r for r in eligible if rnd.matched(r) >= NEAR_FACTOR * top_m),
                      key=lambda r: -rnd.matched(r))[:8]
        winner, margin, runner = _tournament(rnd, near)
        if len(near) == 1 or runner is None:
            others = [m for r, m in rnd.counts.items() if r != winner and r not in near]
            margin = 1.0 - (max(others) / rnd.matched(winner) if others else 0.0)
        ref = index.refs[winner]
        cov = rnd.coverage(winner)
        # span(s): clusters of the winner's matched positions
        if offsets is None:
            offsets = offsets_from_parts(parts)
        pos_arr = rnd.positions(winner)
        positions = pos_arr.tolist()
        clusters = [c for c in _clusters(positions) if c[2] >= max(3, 0.1 * len(positions))]
        if not clusters:
            break
        lo, hi = clusters[0][0], clusters[-1][1] + SHINGLE - 1
        hi = min(hi, len(offsets) - 1)
        span_positions = max(1, (hi - lo + 1) - SHINGLE + 1)
        score = 2 * rnd.matched(winner) / (len(ref.shingles) + span_positions)
        start, end = offsets[lo][0], offsets[hi][1]
        modified = _modified(ref, rnd, pos_arr[(pos_arr >= lo) & (pos_arr <= hi)])
        decided = margin >= MIN_MARGIN and not modified
        span = Span(
            license=ref.id if decided else "unknown",
            kind=ref.entry.kind,
            start=start, end=end,
            start_line=_line_of(text, start, line_cache),
            end_line=_line_of(text, max(start, end - 1), line_cache),
            coverage=_round(cov), score=_round(min(1.0, score)), margin=_round(margin),
            complete=cov >= COMPLETE_COVERAGE,
        )
        if first:
            result.score, result.margin, result.coverage = span.score, span.margin, span.coverage
            result.complete = span.complete
            if decided:
                result.license, result.entry, result.family = ref.id, ref.entry, ref.entry.family
            else:
                fams = {index.refs[r].entry.family for r in near}
                result.family = fams.pop() if len(fams) == 1 else None
        result.spans.append(span)
        span_refs.append((winner, pos_arr[(pos_arr >= lo) & (pos_arr <= hi)].tolist()))
        first = False
        claimed.append((lo, hi))
        if not decided:
            break
    if len(result.spans) > 1 and offsets is not None:
        _settle_boundaries(result.spans, span_refs, ids, index, offsets, text, line_cache)
    # prefer a license over an AUP as the file's verdict when both were found
    if result.entry is not None and result.entry.kind == "aup":
        for sp in result.spans[1:]:
            if sp.kind == "license" and sp.license != "unknown":
                i = index.by_id(sp.license)
                if i is not None:
                    ref = index.refs[i]
                    result.license, result.entry, result.family = ref.id, ref.entry, ref.entry.family
                    result.score, result.margin, result.coverage = sp.score, sp.margin, sp.coverage
                    result.complete = sp.complete
                break
    result.candidates = [
        Candidate(license=index.refs[r].id, family=index.refs[r].entry.family,
                  version=index.refs[r].entry.version, coverage=_round(c), matched=m)
        for r, (c, m) in sorted(candidates.items(), key=lambda kv: (-kv[1][1], -kv[1][0]))[:6]
    ]
    return result


def _modified(ref, rnd: "_Round", matched_positions: np.ndarray) -> bool:
    """True when the text is the reference with a passage added or removed inside it.

    A truncated copy or extra text before or after is fine (partial coverage, wider input);
    a passage inserted in the middle (a BSD-4-like licence against BSD-3) or cut out of the
    middle (BSD-2-like against BSD-3) makes it a different licence that only resembles the
    reference. Small edits (a copyright line, a name) stay below the threshold.
    """
    limit = max(MODIFIED_MIN_TOKENS, MODIFIED_SHARE * ref.n_tokens)
    if len(matched_positions) > 1:
        gaps = np.diff(matched_positions) - 1 - (SHINGLE - 1)
        if gaps.size and int(gaps.max()) >= limit:
            return True
    order = ref.order
    if order is not None and len(order):
        present = np.zeros(len(rnd.index.post), dtype=bool)
        present[rnd.distinct] = True
        found = present[order]
        idx = np.flatnonzero(found)
        if len(idx) > 1:
            inner = np.diff(idx) - 1 - (SHINGLE - 1)
            if inner.size and int(inner.max()) >= limit:
                return True
    return False


def _settle_boundaries(spans: list[Span], refs: list[tuple[int, list[int]]], ids: list, index: LicenseIndex,
                       offsets: list[tuple[int, int]], text: str, line_cache: list[int]) -> None:
    """Where one span runs into the next, hand the shared tail to the text that follows.

    A license that quotes its AUP's address or title matches a few phrases at the start
    of the AUP pasted after it; those belong to the AUP.
    """
    order = sorted(range(len(spans)), key=lambda i: spans[i].start)
    for i, j in zip(order, order[1:]):
        a, b = spans[i], spans[j]
        ref_a, pos_a = refs[i]
        ref_b, _pos_b = refs[j]
        if a.end < b.start - 400 or not pos_a:
            continue
        other = index.refs[ref_b].shingles
        cut = len(pos_a)
        while cut > 1 and int(ids[pos_a[cut - 1]]) in other and pos_a[cut - 1] > pos_a[0]:
            cut -= 1
        if cut == len(pos_a):
            continue
        new_hi = min(pos_a[cut - 1] + SHINGLE - 1, len(offsets) - 1)
        a.end = offsets[new_hi][1]
        a.end_line = _line_of(text, max(a.start, a.end - 1), line_cache)
        if new_hi + 1 < len(offsets):
            b.start = min(b.start, offsets[new_hi + 1][0])
        b.start_line = _line_of(text, b.start, line_cache)


def _tournament(rnd: _Round, near: list[int]) -> tuple[int, float, int | None]:
    """Round-robin on differing passages: (winner, its smallest margin, closest rival)."""
    if len(near) == 1:
        return near[0], 1.0, None
    wins = {r: 0 for r in near}
    results: dict[tuple[int, int], tuple[int, float, bool]] = {}
    for i, a in enumerate(near):
        for b in near[i + 1:]:
            w, m, co = rnd.compare(a, b)
            results[(a, b)] = results[(b, a)] = (w, m, co)
            if not co:
                wins[w] += 1
    winner = max(near, key=lambda r: (wins[r], rnd.matched(r)))
    margin, rival = 1.0, None
    for r in near:
        if r == winner:
            continue
        w, m, co = results[(winner, r)]
        if co:
            continue
        signed = m if w == winner else -m
        if signed < margin:
            margin, rival = signed, r
    return winner, max(0.0, margin), rival
