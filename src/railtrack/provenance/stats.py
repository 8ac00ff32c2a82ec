"""Statistics for weight provenance: projected unit matching and the residual-permutation null.

The test (explained in full in ``docs/provenance.md``):

* Units are vectors in residual-stream coordinates (see :mod:`railtrack.provenance.align`).
  For each layer and unit group, ``k`` units are sampled from the base model. Each is matched
  to the suspect's units of the same group with :func:`scipy.optimize.linear_sum_assignment`
  (one-to-one, maximising cosine similarity, over the ``top`` best candidates of each sampled
  unit). The group's score is the mean matched cosine. Hidden-unit and head permutations in
  the suspect only reorder its units, so the score does not change under them.
* Cosines are computed after a fixed random Gaussian projection ``R`` (``d x r``) of the
  residual coordinates (Johnson-Lindenstrauss), so that each suspect unit is projected once.
* Null model: a training run started from i.i.d. initialisation with a coordinate-wise
  optimiser is equivariant under any permutation ``tau`` of the residual-stream coordinates,
  so an independently trained base has the same distribution as its ``tau``-permuted copy.
  Replicate ``t`` recomputes every score with the sampled base units' coordinates permuted
  by ``tau_t`` (one ``tau_t`` for all layers and groups). Under independence the observed
  statistic and the ``T`` replicates are exchangeable, which makes
  ``p = (1 + #{t: stat_t >= stat_0}) / (T + 1)`` an exact p-value.
* Residual-stream permutations of the suspect (the very symmetry of the null) are estimated
  from the embedding columns (:func:`match_coordinates`), undone through the projection
  (:func:`aligned_projection`) and tested on the other tensors; the unaligned and aligned
  statistics share the permutations and are combined by :func:`max_z_combine`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["projection", "permuted_projections", "normalize_rows", "matched_scores",
           "aligned_row_scores", "exact_p_value", "match_coordinates", "aligned_projection",
           "max_z_combine"]

_EPS = 1e-12


def projection(d: int, r: int, rng: np.random.Generator) -> np.ndarray:
    """A ``d x r`` projection: the identity when ``d <= r``, else scaled Gaussian (JL)."""
    if d <= r:
        return np.eye(d, dtype=np.float32)
    return (rng.standard_normal((d, r)) / np.sqrt(r)).astype(np.float32)


def permuted_projections(R: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """Stack ``R_t`` with ``x[perm_t] @ R == x @ R_t`` for every permutation: ``(d, T+1, r)``.

    ``x[perm]`` means the coordinates of ``x`` reordered by ``perm``; since
    ``x[perm] @ R = sum_j x[perm[j]] R[j]``, ``R_t[perm[j]] = R[j]``.
    """
    d, r = R.shape
    out = np.empty((d, len(perms), r), dtype=np.float32)
    for t, perm in enumerate(perms):
        out[perm, t, :] = R
    return out


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    norms = np.sqrt(np.einsum("...i,...i->...", x, x, dtype=np.float64)).astype(np.float32)
    return x / np.maximum(norms, _EPS)[..., None]


def _top_columns(sims: np.ndarray, top: int) -> np.ndarray:
    """Indices ``(..., k, top)`` of each row's ``top`` largest entries (repeated argmax; ``sims`` is restored)."""
    picked: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for _ in range(top):
        a = sims.argmax(axis=-1)[..., None]
        picked.append(a)
        values.append(np.take_along_axis(sims, a, axis=-1))
        np.put_along_axis(sims, a, -np.inf, axis=-1)
    for a, v in zip(reversed(picked), reversed(values)):
        np.put_along_axis(sims, a, v, axis=-1)
    return np.concatenate(picked, axis=-1)


def _lap_mean(sim: np.ndarray, cand: np.ndarray | None) -> float:
    """Mean cosine of a one-to-one matching of the rows of ``sim`` to its columns.

    The assignment is restricted to ``cand``, the union of each row's best columns, which
    keeps it cheap for tens of thousands of suspect units and never changes a clear match.
    """
    k, m = sim.shape
    if k == 0 or m == 0:
        return 0.0
    sub = sim[:, np.unique(cand)] if cand is not None else sim
    rows, picked = linear_sum_assignment(sub, maximize=True)
    return float(sub[rows, picked].mean()) if len(rows) else 0.0


def matched_scores(base_proj: np.ndarray, suspect_proj: np.ndarray, top: int = 8,
                   chunk: int = 16) -> np.ndarray:
    """Mean matched cosine for every replicate.

    ``base_proj``: ``(T+1, k, r)`` projected base units (unit-normalised), replicate 0 observed.
    ``suspect_proj``: ``(m, r)`` projected suspect units (unit-normalised).
    Returns ``(T+1,)`` scores.
    """
    n_rep = base_proj.shape[0]
    out = np.empty(n_rep, dtype=np.float64)
    st = np.ascontiguousarray(suspect_proj.T)
    m = st.shape[1]
    top = max(1, min(top, m))
    for a in range(0, n_rep, chunk):
        block = base_proj[a:a + chunk]  # (c, k, r)
        sims = block @ st  # (c, k, m)
        cand = _top_columns(sims, top) if m > top else None
        for i in range(block.shape[0]):
            out[a + i] = _lap_mean(sims[i], None if cand is None else cand[i])
    return out


def aligned_row_scores(base_rows: np.ndarray, suspect_rows: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """Mean cosine of row pairs aligned by index (token id), for every permutation of base coordinates.

    ``base_rows``/``suspect_rows``: ``(n, d)``; ``perms``: ``(T+1, d)``. Returns ``(T+1,)``.
    """
    if len(base_rows) == 0:
        return np.zeros(len(perms))
    # coordinates on the first axis, so that permuting them gathers whole contiguous rows
    b = np.ascontiguousarray(normalize_rows(base_rows.astype(np.float32)).T)
    s = np.ascontiguousarray(normalize_rows(suspect_rows.astype(np.float32)).T)
    out = np.empty(len(perms), dtype=np.float64)
    for t, perm in enumerate(perms):
        out[t] = float(np.einsum("ij,ij->", b[perm], s)) / b.shape[1]
    return out


def exact_p_value(replicates: np.ndarray) -> float:
    """``(1 + #{t >= 1: x_t >= x_0}) / (T + 1)`` for ``replicates = [x_0, x_1, ..., x_T]``."""
    x = np.asarray(replicates, dtype=np.float64)
    if len(x) < 2:
        return 1.0
    # a tolerance so that float noise cannot turn a tie into a strict win
    return float((1 + np.sum(x[1:] >= x[0] - 1e-9)) / len(x))


def match_coordinates(base_cols: np.ndarray, suspect_cols: np.ndarray, min_cos: float = 0.3) -> dict:
    """Estimate a signed permutation of residual coordinates from token-aligned matrices.

    ``base_cols``/``suspect_cols``: ``(n, d)`` rows of the two embedding matrices for the
    same ``n`` tokens. Column ``i`` of each is coordinate ``i``'s profile over the tokens.
    Base coordinate ``i`` is matched to the suspect coordinate ``perm[i]`` whose profile has
    the largest ``|cosine|`` (one-to-one, :func:`scipy.optimize.linear_sum_assignment`),
    and ``sign[i]`` is the sign of that cosine. When every base coordinate's best suspect
    coordinate is distinct, that is already the optimal assignment and the solver is skipped.
    When fewer than half of the coordinates are *clear* mutual best matches - each other's
    best, with ``|cos| >= min_cos`` and above the noise level of unrelated columns
    (``1.5 * sqrt(2 ln(2d) / n)``, the typical largest ``|cos|`` among ``d`` random profiles
    of length ``n``) - there is no permutation to find and no assignment is computed
    (``perm`` is None). (Among unrelated columns about half the best matches are mutual by
    chance, so mutuality alone says nothing.)

    Returns ``{perm, sign, matched, identity, mutual, threshold}``: ``matched`` is the mean
    ``|cos|`` of the matched pairs, ``identity`` the mean signed cosine of coordinate ``i``
    with ``i`` and ``mutual`` the fraction of clear mutual best matches.
    """
    b = normalize_rows(np.ascontiguousarray(base_cols.T, dtype=np.float32))
    s = normalize_rows(np.ascontiguousarray(suspect_cols.T, dtype=np.float32))
    cos = b @ s.T  # (d, d)
    d = cos.shape[0]
    identity = float(np.mean(np.diagonal(cos)))
    mag = np.abs(cos)
    best = mag.argmax(axis=1)
    back = mag.argmax(axis=0)
    n = base_cols.shape[0]
    threshold = max(min_cos, 1.5 * float(np.sqrt(2 * np.log(2 * d) / max(n, 1))))
    top = mag[np.arange(d), best]
    mutual = float(np.mean((back[best] == np.arange(d)) & (top >= threshold)))
    out: dict = {"perm": None, "sign": None, "matched": float(top.mean()),
                 "identity": identity, "mutual": mutual, "threshold": threshold}
    if mutual < 0.5:
        return out
    if len(np.unique(best)) == d:
        perm = best
    else:
        rows, perm = linear_sum_assignment(mag, maximize=True)
        perm = perm[np.argsort(rows)]
    vals = cos[np.arange(d), perm]
    out.update(perm=perm.astype(np.int64), sign=np.where(vals < 0, -1.0, 1.0).astype(np.float32),
               matched=float(np.abs(vals).mean()))
    return out


def aligned_projection(R: np.ndarray, perm: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """``R_a`` with ``x @ R_a == x_aligned @ R`` where ``x_aligned[i] = sign[i] * x[perm[i]]``.

    ``x`` is a unit in the suspect's residual coordinates, ``x_aligned`` the same unit in the
    base's coordinates.
    """
    out = np.empty_like(R)
    out[perm] = R * sign[:, None]
    return out


def max_z_combine(*replicates: np.ndarray) -> np.ndarray:
    """Combine several statistics computed on the same permutation replicates: the largest z-score.

    Each ``replicates[j]`` is ``(T+1,)`` with the observed value first. Each is standardised
    by the mean and standard deviation of all its ``T+1`` values (the observed one included,
    so the standardisation is the same symmetric function for every replicate), and the
    combined value of replicate ``t`` is the largest of its standardised values. Because
    every statistic uses the same permutations, the vector of statistics is exchangeable
    across replicates whenever each is, so :func:`exact_p_value` of the result is exact
    without a Bonferroni factor (and, unlike a rank-based min-p, a single clear winner still
    reaches the smallest p-value ``1/(T+1)``).
    """
    out = None
    for reps in replicates:
        x = np.asarray(reps, dtype=np.float64)
        sd = x.std()
        z = (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)
        out = z if out is None else np.maximum(out, z)
    assert out is not None
    return out
