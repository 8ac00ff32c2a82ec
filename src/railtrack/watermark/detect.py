"""Detection from text alone: tokenizer + key, no model weights.

A token is *scored* when it has ``h`` tokens of context before it (and, by default, when
its (context, token) n-gram has not been scored before in the same text: repeated n-grams
are scored once, as in Kirchenbauer et al.). Under the null hypothesis (text written
without the key) each scored token is green with probability ``gamma`` independently, so
the number of green tokens ``G`` among ``T`` scored ones is Binomial(T, gamma). We report

* ``z_score = (G - gamma T) / sqrt(T gamma (1 - gamma))`` and its normal tail
  ``p_value_normal = P(N(0,1) >= z)``;
* ``p_value``, the exact binomial tail ``P(Binomial(T, gamma) >= G)`` (scipy), which is
  what evidence should quote: the normal tail overstates significance for short texts.

``watermarked`` is ``z_score >= z_threshold`` (default 4, a one-sided false-positive rate
of about 3e-5 under the normal approximation).

Windowed detection (:func:`windowed`) takes the maximum z over sliding windows to find a
watermarked passage inside human text. That maximum is **not** a calibrated z-score (it is
the best of many overlapping tests); each window result therefore also carries a
Bonferroni bound ``p_value_bonferroni = min(1, p * number_of_windows)``, which is a valid
(conservative) p-value for "some window is watermarked".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from scipy import stats

from .keys import WatermarkKey
from .prf import fmix32_np, green_positions_np

DEFAULT_Z_THRESHOLD = 4.0
DEFAULT_WINDOWS = (50, 100, 200)


# --------------------------------------------------------------------------- statistics

def z_scores(green: np.ndarray | float, scored: np.ndarray | float, gamma: float) -> np.ndarray:
    """One-proportion z-scores (0 where nothing was scored)."""
    g = np.asarray(green, dtype=np.float64)
    t = np.asarray(scored, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (g - gamma * t) / np.sqrt(t * gamma * (1.0 - gamma))
    return np.where(t > 0, z, 0.0)


def binomial_p_values(green: np.ndarray | float, scored: np.ndarray | float, gamma: float) -> np.ndarray:
    """Exact one-sided p-values ``P(Binomial(T, gamma) >= G)`` (1 where nothing was scored)."""
    g = np.asarray(green, dtype=np.float64)
    t = np.asarray(scored, dtype=np.float64)
    p = stats.binom.sf(g - 1.0, t, gamma)
    return np.where(t > 0, p, 1.0)


def normal_p_values(z: np.ndarray | float) -> np.ndarray:
    return stats.norm.sf(np.asarray(z, dtype=np.float64))


# --------------------------------------------------------------------------- scoring

def _ngram_keys(flat: np.ndarray, pos: np.ndarray, width: int) -> np.ndarray:
    """A uint64 identity of the n-gram (tokens pos-width .. pos) at each position.

    Exact for ``width == 1`` (previous id << 32 | id); for wider contexts two independent
    unkeyed 32-bit chain hashes (collision probability about n**2 / 2**64).
    """
    if width == 1:
        return (flat[pos - 1].astype(np.uint64) << np.uint64(32)) | flat[pos].astype(np.uint64)
    a = np.full(pos.shape, 0x9E3779B9, dtype=np.uint32)
    b = np.full(pos.shape, 0x7F4A7C15, dtype=np.uint32)
    for j in range(width, -1, -1):
        col = flat[pos - j]
        a = fmix32_np(a ^ col)
        b = fmix32_np((b + np.uint32(0x632BE5AB)) ^ col)
    return (a.astype(np.uint64) << np.uint64(32)) | b.astype(np.uint64)


@dataclass
class BulkScores:
    """Per-position scoring of many sequences at once (flat arrays over all scored positions)."""

    doc: np.ndarray      # document index of each candidate position
    pos: np.ndarray      # position within its document
    green: np.ndarray    # bool: token is green
    counted: np.ndarray  # bool: position counts (not a repeated n-gram, when those are ignored)
    n_docs: int

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(tokens_scored, green_tokens) per document."""
        d = self.doc[self.counted]
        scored = np.bincount(d, minlength=self.n_docs)
        green = np.bincount(d, weights=self.green[self.counted], minlength=self.n_docs).astype(np.int64)
        return scored, green


def score_sequences(seqs: Sequence[np.ndarray | Sequence[int]], key: WatermarkKey, *,
                    ignore_repeated_ngrams: bool = True) -> BulkScores:
    """Score many token-id sequences in one vectorised pass.

    ``key`` is a :class:`WatermarkKey`, or any object with ``gamma``, ``context_width``,
    ``fingerprint`` and its own ``score_sequences(seqs, ignore_repeated_ngrams=...)``
    (e.g. :class:`railtrack.watermark.compat.TransformersWatermark`).
    """
    custom = getattr(key, "score_sequences", None)
    if custom is not None:
        return custom(seqs, ignore_repeated_ngrams=ignore_repeated_ngrams)

    def green_fn(flat: np.ndarray) -> np.ndarray:
        return green_positions_np(flat, key.context_width, key.seeding, key.gamma, key.words)

    return score_with(seqs, key.context_width, green_fn, ignore_repeated_ngrams=ignore_repeated_ngrams)


def score_with(seqs: Sequence[np.ndarray | Sequence[int]], width: int,
               green_fn: Callable[[np.ndarray], np.ndarray], *, ignore_repeated_ngrams: bool = True) -> BulkScores:
    """The scoring skeleton shared by railtrack's PRF and the transformers-compatible one.

    ``green_fn(flat)`` returns green flags for positions ``width .. len(flat)-1`` of the
    concatenated ids; positions whose context crosses a document boundary are dropped.
    """
    h = int(width)
    arrays = [np.asarray(s, dtype=np.int64) for s in seqs]
    lens = np.fromiter((a.shape[0] for a in arrays), dtype=np.int64, count=len(arrays))
    n_docs = len(arrays)
    total = int(lens.sum()) if n_docs else 0
    if total <= h:
        empty = np.zeros(0, dtype=np.int64)
        return BulkScores(empty, empty, empty.astype(bool), empty.astype(bool), n_docs)
    flat64 = np.concatenate(arrays)
    if flat64.min() < 0 or flat64.max() >= 2**32:
        raise ValueError("token ids must be in [0, 2**32)")
    flat = flat64.astype(np.uint32)
    starts = np.cumsum(lens) - lens
    green_all = green_fn(flat)  # positions h..total-1
    doc_all = np.repeat(np.arange(n_docs, dtype=np.int64), lens)[h:]
    gpos = np.arange(h, total, dtype=np.int64)
    local = gpos - starts[doc_all]
    valid = local >= h
    doc, pos, green = doc_all[valid], local[valid], green_all[valid]
    counted = np.ones(doc.shape[0], dtype=bool)
    if ignore_repeated_ngrams and doc.size:
        counted = _first_occurrences(doc, _ngram_keys(flat, gpos[valid], h))
    return BulkScores(doc, pos, green, counted, n_docs)


def _first_occurrences(doc: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """True at the first occurrence of each (document, n-gram key) pair.

    The pair is folded into one uint64 and checked with pandas' hash table
    (``duplicated``, O(n); a global sort is several times slower on a million tokens).
    Only the positions whose folded value repeats are then resolved exactly with a sort
    on (document, key), so a folding collision can never change the count.
    """
    import pandas as pd

    folded = keys ^ (doc.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    dup = pd.Series(folded, copy=False).duplicated(keep="first").to_numpy()
    if not dup.any():
        return ~dup
    sub = np.flatnonzero(np.isin(folded, folded[dup]))
    order = np.lexsort((keys[sub], doc[sub]))  # stable: equal pairs stay in position order
    sd, sk = doc[sub][order], keys[sub][order]
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = (sd[1:] != sd[:-1]) | (sk[1:] != sk[:-1])
    counted = np.ones(folded.shape[0], dtype=bool)
    counted[sub] = False
    counted[sub[order[first]]] = True
    return counted


# --------------------------------------------------------------------------- results

@dataclass
class WindowResult:
    """The most significant window of a text (uncalibrated maximum; see module docs)."""

    window: int
    start_token: int
    end_token: int
    z_score: float
    p_value: float
    p_value_bonferroni: float
    windows_tested: int
    spans: list[dict[str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Detection:
    """The result of testing one text for the watermark."""

    watermarked: bool
    z_score: float
    p_value: float
    p_value_normal: float
    tokens_scored: int
    green_tokens: int
    green_fraction: float
    tokens_total: int
    z_threshold: float
    gamma: float
    ignore_repeated_ngrams: bool
    key_fingerprint: str
    window: WindowResult | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["window"] = self.window.to_dict() if self.window else None
        return d


def _make_detection(scored: int, green: int, total: int, key: WatermarkKey, z_threshold: float,
                    ignore: bool) -> Detection:
    z = float(z_scores(green, scored, key.gamma))
    p = float(binomial_p_values(green, scored, key.gamma))
    return Detection(
        watermarked=bool(scored > 0 and z >= z_threshold), z_score=z, p_value=p,
        p_value_normal=float(normal_p_values(z)) if scored else 1.0, tokens_scored=int(scored),
        green_tokens=int(green), green_fraction=float(green / scored) if scored else 0.0,
        tokens_total=int(total), z_threshold=float(z_threshold), gamma=key.gamma,
        ignore_repeated_ngrams=ignore, key_fingerprint=key.fingerprint,
    )


def detect_ids_many(seqs: Sequence[Sequence[int] | np.ndarray], key: WatermarkKey, *,
                    z_threshold: float = DEFAULT_Z_THRESHOLD,
                    ignore_repeated_ngrams: bool = True) -> list[Detection]:
    """Detect the watermark in many token-id sequences (one vectorised pass)."""
    bulk = score_sequences(seqs, key, ignore_repeated_ngrams=ignore_repeated_ngrams)
    scored, green = bulk.counts()
    z = z_scores(green, scored, key.gamma)
    p = binomial_p_values(green, scored, key.gamma)
    pn = normal_p_values(z)
    out = []
    for i, s in enumerate(seqs):
        t = int(scored[i])
        out.append(Detection(
            watermarked=bool(t > 0 and z[i] >= z_threshold), z_score=float(z[i]), p_value=float(p[i]),
            p_value_normal=float(pn[i]) if t else 1.0, tokens_scored=t, green_tokens=int(green[i]),
            green_fraction=float(green[i] / t) if t else 0.0, tokens_total=len(s),
            z_threshold=float(z_threshold), gamma=key.gamma,
            ignore_repeated_ngrams=ignore_repeated_ngrams, key_fingerprint=key.fingerprint))
    return out


def detect_ids(ids: Sequence[int] | np.ndarray, key: WatermarkKey, *, z_threshold: float = DEFAULT_Z_THRESHOLD,
               ignore_repeated_ngrams: bool = True, windows: Iterable[int] | None = None) -> Detection:
    """Detect the watermark in one token-id sequence; optionally add the best window."""
    det = detect_ids_many([ids], key, z_threshold=z_threshold, ignore_repeated_ngrams=ignore_repeated_ngrams)[0]
    if windows:
        det.window = windowed(ids, key, windows=windows, z_threshold=z_threshold,
                              ignore_repeated_ngrams=ignore_repeated_ngrams)
    return det


def encode(tokenizer: Any, texts: Sequence[str]) -> list[np.ndarray]:
    """Token ids of ``texts`` without special tokens (batched through the fast tokenizer)."""
    if not texts:
        return []
    enc = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [np.asarray(e, dtype=np.int64) for e in enc]


def detect(text: str, key: WatermarkKey, tokenizer: Any, *, z_threshold: float = DEFAULT_Z_THRESHOLD,
           ignore_repeated_ngrams: bool = True, windows: Iterable[int] | None = None) -> Detection:
    """Test ``text`` for the watermark of ``key`` (tokenizer + key only, no model weights)."""
    ids = encode(tokenizer, [text])[0]
    det = detect_ids(ids, key, z_threshold=z_threshold, ignore_repeated_ngrams=ignore_repeated_ngrams,
                     windows=windows)
    if det.window is not None and det.window.spans:
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        _spans_to_chars(det.window, offsets)
    return det


def detect_many(texts: Sequence[str], key: WatermarkKey, tokenizer: Any, *,
                z_threshold: float = DEFAULT_Z_THRESHOLD, ignore_repeated_ngrams: bool = True) -> list[Detection]:
    """Test many texts at once (batched tokenisation and one vectorised scoring pass)."""
    return detect_ids_many(encode(tokenizer, texts), key, z_threshold=z_threshold,
                           ignore_repeated_ngrams=ignore_repeated_ngrams)


# --------------------------------------------------------------------------- per-token view

def token_flags(ids: Sequence[int] | np.ndarray, key: WatermarkKey, *,
                ignore_repeated_ngrams: bool = True) -> np.ndarray:
    """Per-token mask for highlighting: 1 green, 0 red, -1 not scored (no context or repeated n-gram)."""
    n = len(ids)
    out = np.full(n, -1, dtype=np.int8)
    bulk = score_sequences([ids], key, ignore_repeated_ngrams=ignore_repeated_ngrams)
    pos = bulk.pos[bulk.counted]
    out[pos] = bulk.green[bulk.counted].astype(np.int8)
    return out


def token_mask(text: str, key: WatermarkKey, tokenizer: Any, *,
               ignore_repeated_ngrams: bool = True) -> list[dict[str, Any]]:
    """``[{start, end, text, green}]`` per token, ``green`` being True, False or None (not scored)."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    flags = token_flags(enc["input_ids"], key, ignore_repeated_ngrams=ignore_repeated_ngrams)
    out = []
    for (start, end), flag in zip(enc["offset_mapping"], flags.tolist()):
        out.append({"start": int(start), "end": int(end), "text": text[start:end],
                    "green": None if flag < 0 else bool(flag)})
    return out


# --------------------------------------------------------------------------- windows

def windowed(ids: Sequence[int] | np.ndarray, key: WatermarkKey, *, windows: Iterable[int] = DEFAULT_WINDOWS,
             z_threshold: float = DEFAULT_Z_THRESHOLD, ignore_repeated_ngrams: bool = True) -> WindowResult:
    """The maximum-z window over sliding windows of the given sizes (in tokens), and the merged
    token spans of every window whose z reaches ``z_threshold``.

    The maximum over windows is not calibrated (see the module docstring); use
    ``p_value_bonferroni`` when quoting it.
    """
    n = len(ids)
    flags = token_flags(ids, key, ignore_repeated_ngrams=ignore_repeated_ngrams)
    scored_c = np.concatenate([[0], np.cumsum(flags >= 0)])
    green_c = np.concatenate([[0], np.cumsum(flags == 1)])
    best: tuple[float, int, int, int, int, int] | None = None  # z, start, end, window, T, G
    tested = 0
    cover = np.zeros(n + 1, dtype=np.int64)
    sizes = sorted({int(w) for w in windows if int(w) > 0})
    if not sizes:
        raise ValueError("window sizes must be positive")
    for w in sizes:
        w_eff = min(w, n)
        if w_eff <= key.context_width:
            continue
        starts = np.arange(0, n - w_eff + 1)
        t = scored_c[starts + w_eff] - scored_c[starts]
        g = green_c[starts + w_eff] - green_c[starts]
        z = z_scores(g, t, key.gamma)
        tested += starts.shape[0]
        i = int(np.argmax(z))
        if best is None or z[i] > best[0]:
            best = (float(z[i]), int(starts[i]), int(starts[i] + w_eff), w_eff, int(t[i]), int(g[i]))
        hit = starts[z >= z_threshold]
        if hit.size:
            np.add.at(cover, hit, 1)
            np.add.at(cover, hit + w_eff, -1)
        if w_eff == n:
            break
    if best is None:
        return WindowResult(window=0, start_token=0, end_token=n, z_score=0.0, p_value=1.0,
                            p_value_bonferroni=1.0, windows_tested=0)
    covered = np.cumsum(cover)[:n] > 0
    spans = []
    if covered.any():
        edges = np.flatnonzero(np.diff(np.concatenate([[0], covered.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2]):
            spans.append({"start_token": int(a), "end_token": int(b)})
    z, s, e, w, t, g = best
    p = float(binomial_p_values(g, t, key.gamma))
    return WindowResult(window=w, start_token=s, end_token=e, z_score=z, p_value=p,
                        p_value_bonferroni=min(1.0, p * tested), windows_tested=tested, spans=spans)


def _spans_to_chars(result: WindowResult, offsets: Sequence[Sequence[int]]) -> None:
    """Add character offsets to the token spans of ``result`` (in place)."""
    if not offsets:
        return
    for span in result.spans:
        a = min(span["start_token"], len(offsets) - 1)
        b = min(span["end_token"], len(offsets)) - 1
        span["start_char"] = int(offsets[a][0])
        span["end_char"] = int(offsets[max(b, a)][1])


def span_chars(result: WindowResult, offsets: Sequence[Sequence[int]]) -> None:
    """Public alias of the character-offset step, for callers that tokenised themselves."""
    _spans_to_chars(result, offsets)
