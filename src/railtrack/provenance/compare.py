"""Compare a base model with suspects: statistic, exact p-value, verdict, per-layer table."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ..errors import InputError, RailtrackError
from .align import GROUPS, AlignedTensor, Layout, layout_of
from .loading import Checkpoint, open_checkpoint
from .stats import (aligned_projection, aligned_row_scores, exact_p_value, match_coordinates,
                    matched_scores, max_z_combine, normalize_rows, permuted_projections, projection)

__all__ = ["CompareOptions", "Comparison", "LayerRow", "BaseProfile", "compare", "scan",
           "find_candidates", "VERDICTS"]

VERDICTS = ("derived", "independent", "inconclusive")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CompareOptions:
    """Knobs of the test. The defaults are the documented ones (docs/provenance.md)."""

    #: units sampled from the base per layer and group
    units: int = 16
    #: random projection dimension for the residual coordinates (identity when d <= proj_dim)
    proj_dim: int = 96
    #: null replicates T (residual permutations); the smallest p-value is 1/(T+1)
    permutations: int = 99
    #: candidates per sampled unit given to the assignment solver
    top: int = 8
    #: token rows compared in the embedding and output head
    tokens: int = 256
    #: shared tokens whose embedding rows estimate a residual-stream permutation of the suspect
    #: (0 disables the residual alignment)
    align_tokens: int = 512
    #: derived when p <= alpha
    alpha: float = 0.01
    #: independent when p > independent_above (in between: inconclusive)
    independent_above: float = 0.05
    #: compute the plain (non-robust) cosine of same-named, same-shaped tensors for the table
    direct: bool = True
    seed: int = 0
    #: BLAS threads. None: automatic - one thread when the machine is already busy (load
    #: average >= CPU count, where multi-threaded BLAS oversubscribes and runs several times
    #: slower), else the BLAS library's default
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise InputError("threads must be at least 1")
        if self.units < 2:
            raise InputError("units must be at least 2")
        if self.align_tokens < 0:
            raise InputError("align_tokens must be at least 0")
        if self.proj_dim < 8:
            raise InputError("proj_dim must be at least 8")
        if self.permutations < 19:
            raise InputError("permutations must be at least 19 (p-values below 0.05 need it)")
        if not (0 < self.alpha < 1) or not (self.alpha <= self.independent_above < 1):
            raise InputError("need 0 < alpha <= independent_above < 1")
        if self.alpha < 1.0 / (self.permutations + 1):
            raise InputError(f"alpha {self.alpha} is below the smallest attainable p-value "
                             f"1/{self.permutations + 1}; raise --permutations")


@dataclass
class LayerRow:
    """One row of the per-layer table."""

    layer: str
    groups: dict[str, float]
    statistic: float
    null_mean: float
    null_max: float
    p_value: float
    agrees: bool
    direct_cosine: float | None
    units: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: the suspect's units were mapped into the base's residual coordinates first (a residual
    #: permutation was detected); the row then scores the aligned suspect
    residual_aligned: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "residual_aligned": self.residual_aligned,
            "statistic": round(self.statistic, 6),
            "null_mean": round(self.null_mean, 6),
            "null_max": round(self.null_max, 6),
            "p_value": self.p_value,
            "agrees": self.agrees,
            "direct_cosine": None if self.direct_cosine is None else round(self.direct_cosine, 6),
            "groups": {g: round(v, 6) for g, v in self.groups.items()},
            "units": {g: {"base": a, "suspect": b} for g, (a, b) in self.units.items()},
        }


@dataclass
class Comparison:
    """The result of comparing one suspect with a base model."""

    base: str
    suspect: str
    verdict: str
    p_value: float
    statistic: float
    null_mean: float
    null_std: float
    z: float
    permutations: int
    alpha: float
    layers: list[LayerRow]
    reason: str
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "suspect": self.suspect,
            "verdict": self.verdict,
            "p_value": self.p_value,
            "statistic": round(self.statistic, 6),
            "null_mean": round(self.null_mean, 6),
            "null_std": round(self.null_std, 6),
            "z": round(self.z, 3),
            "permutations": self.permutations,
            "alpha": self.alpha,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "layers": [row.to_dict() for row in self.layers],
            **self.details,
        }


# -- base profile -----------------------------------------------------------------------------

def _sample_units(ck: Checkpoint, tensors: list[AlignedTensor], k: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``k`` units (rows in residual coordinates) sampled uniformly from a group's tensors."""
    sizes = [t.n_units for t in tensors]
    total = int(sum(sizes))
    chosen = np.sort(rng.choice(total, size=min(k, total), replace=False))
    out: list[np.ndarray] = []
    start = 0
    for t, n in zip(tensors, sizes):
        local = chosen[(chosen >= start) & (chosen < start + n)] - start
        start += n
        if len(local) == 0:
            continue
        if t.unit_axis == 0:
            out.append(ck.take(t.name, local))
        else:
            cols = [chunk[:, local] for _, chunk in ck.iter_rows(t.name)]
            out.append(np.concatenate(cols, axis=0).T)
    return np.ascontiguousarray(np.concatenate(out, axis=0), dtype=np.float32)


class BaseProfile:
    """What a comparison needs from the base model, computed once and reused across suspects.

    Holds the sampled units (``units`` per layer and group, in full residual coordinates),
    the projection, the null permutations and their permuted projections - a few tens of MB
    for an 8B model - and the open checkpoint for token rows and direct cosines.
    """

    def __init__(self, base: Checkpoint | str | os.PathLike[str], options: CompareOptions | None = None,
                 progress: Progress | None = None) -> None:
        self.options = options or CompareOptions()
        self.ck = base if isinstance(base, Checkpoint) else open_checkpoint(base)
        self.layout: Layout = layout_of(self.ck)
        d = self.layout.hidden_size
        if d is None:
            raise InputError(f"{self.ck.path}: cannot tell the hidden size (no config.json and no embedding)")
        self.d = d
        opts = self.options
        rng = np.random.default_rng([opts.seed, 0xBA5E])
        self.R = projection(d, opts.proj_dim, rng)
        perms = [np.arange(d)] + [rng.permutation(d) for _ in range(opts.permutations)]
        self.perms = np.stack(perms)
        self.r = self.R.shape[1]
        self.R_stack = permuted_projections(self.R, self.perms).reshape(d, -1)
        self.samples: dict[tuple[int, str], np.ndarray] = {}
        layers = sorted(self.layout.layers)
        for i, layer in enumerate(layers):
            for gi, group in enumerate(GROUPS):
                tensors = self.layout.layers[layer].get(group)
                if not tensors:
                    continue
                grng = np.random.default_rng([opts.seed, layer, gi])
                self.samples[(layer, group)] = _sample_units(self.ck, tensors, opts.units, grng)
            if progress:
                progress("base", i + 1, len(layers))

    def projected(self, layer: int, group: str) -> np.ndarray:
        """Base units of ``(layer, group)`` for every replicate, projected and normalised: ``(T+1, k, r)``."""
        b = self.samples[(layer, group)]
        proj = (b @ self.R_stack).reshape(len(b), len(self.perms), self.r).transpose(1, 0, 2)
        return normalize_rows(np.ascontiguousarray(proj))


# -- suspect side ---------------------------------------------------------------------------

class _Direct:
    """Accumulates the plain cosine between same-named, same-shaped tensors."""

    def __init__(self) -> None:
        self.dot = 0.0
        self.nb = 0.0
        self.ns = 0.0
        self.n = 0

    def add(self, b: np.ndarray, s: np.ndarray) -> None:
        b = b.ravel()
        s = s.ravel()
        self.dot += float(np.dot(b, s))
        self.nb += float(np.dot(b, b))
        self.ns += float(np.dot(s, s))
        self.n += 1

    @property
    def value(self) -> float | None:
        if not self.n or self.nb <= 0 or self.ns <= 0:
            return None
        return self.dot / np.sqrt(self.nb * self.ns)


def _project_suspect_group(ck: Checkpoint, tensors: list[AlignedTensor], R: np.ndarray,
                           base_ck: Checkpoint, base_by_key: dict[str, AlignedTensor] | None,
                           direct: _Direct, blocks: int = 1) -> list[np.ndarray]:
    """All suspect units of a group projected by ``R`` and normalised: ``blocks`` arrays ``(m, r)``.

    ``R`` may stack several projections side by side (``d x blocks*r``: the plain one and the
    one that first maps the suspect into the base's residual coordinates), so that each
    suspect chunk is multiplied once; each block is normalised on its own.

    While each suspect tensor streams by, the base tensor with the same canonical key and
    shape (if any, and if asked) streams alongside it for the plain cosine.
    """
    parts: list[np.ndarray] = []
    r = R.shape[1]
    for t in tensors:
        partner = base_by_key.get(t.key) if base_by_key is not None else None
        if partner is not None and (partner.shape != t.shape or partner.unit_axis != t.unit_axis):
            partner = None
        if t.unit_axis == 0:
            for a, chunk in ck.iter_rows(t.name):
                parts.append(chunk @ R)
                if partner is not None:
                    direct.add(base_ck.read(partner.name, a, a + len(chunk)), chunk)
        else:
            acc = np.zeros((r, t.n_units), dtype=np.float32)
            for a, chunk in ck.iter_rows(t.name):
                acc += R[a:a + len(chunk)].T @ chunk
                if partner is not None:
                    direct.add(base_ck.read(partner.name, a, a + len(chunk)), chunk)
            parts.append(acc.T)
    allp = np.concatenate(parts, axis=0)
    w = r // blocks
    return [normalize_rows(np.ascontiguousarray(allp[:, j * w:(j + 1) * w])) for j in range(blocks)]


def _token_pairs(base: Checkpoint, suspect: Checkpoint, vb: int, vs: int, n: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """Pairs of token ids that mean the same token in both models.

    With a tokenizer vocabulary on both sides, tokens are paired by their string; otherwise
    the shared id range ``0 .. min(V1, V2) - 1`` is used (extended vocabularies append ids).
    """
    vocab_b, vocab_s = base.vocab(), suspect.vocab()
    if vocab_b and vocab_s:
        shared = sorted(set(vocab_b) & set(vocab_s))
        pairs = np.array([(vocab_b[t], vocab_s[t]) for t in shared
                          if vocab_b[t] < vb and vocab_s[t] < vs], dtype=np.int64).reshape(-1, 2)
        how = "tokenizer vocabulary"
    else:
        m = min(vb, vs)
        pairs = np.stack([np.arange(m), np.arange(m)], axis=1)
        how = "shared token ids"
    if len(pairs) > n:
        pairs = pairs[np.sort(rng.choice(len(pairs), size=n, replace=False))]
    return pairs[:, 0], pairs[:, 1], how


def _rows_in_order(ck: Checkpoint, name: str, ids: np.ndarray) -> np.ndarray:
    order = np.argsort(ids, kind="stable")
    rows = ck.take(name, ids[order])
    out = np.empty_like(rows)
    out[order] = rows
    return out


# -- residual-stream alignment ------------------------------------------------------------------

#: the aligned test is used when the embedding matching beats the identity by this much ...
_ALIGN_GAIN = 0.2
#: ... and reaches at least this mean |cosine|
_ALIGN_MIN = 0.3


@dataclass
class _Residual:
    report: dict[str, Any]
    perm: np.ndarray | None = None
    sign: np.ndarray | None = None
    R_a: np.ndarray | None = None


def _residual_alignment(profile: BaseProfile, sck: Checkpoint, blay: Layout, slay: Layout,
                        opts: CompareOptions) -> _Residual:
    """Detect a permutation (with sign flips) of the suspect's residual-stream coordinates.

    Estimated from the embedding matrices alone (columns over ``align_tokens`` shared tokens);
    the aligned test then scores only the other tensors. See docs/provenance.md.
    """
    report: dict[str, Any] = {"detected": False, "estimated_from": "embedding columns over shared tokens"}
    bt, st = blay.embed, slay.embed
    if opts.align_tokens == 0 or bt is None or st is None:
        report["reason"] = "disabled" if opts.align_tokens == 0 else "no embedding in both models"
        return _Residual(report)
    rng = np.random.default_rng([opts.seed, 0xA11C])
    bid, sid, _ = _token_pairs(profile.ck, sck, bt.shape[0], st.shape[0], opts.align_tokens, rng)
    report["tokens"] = int(len(bid))
    if len(bid) < 64:
        report["reason"] = "fewer than 64 shared tokens"
        return _Residual(report)
    m = match_coordinates(_rows_in_order(profile.ck, bt.name, bid), _rows_in_order(sck, st.name, sid),
                          min_cos=_ALIGN_MIN)
    report.update(matched_cosine=round(m["matched"], 6), identity_cosine=round(m["identity"], 6),
                  clear_mutual_fraction=round(m["mutual"], 6), match_threshold=round(m["threshold"], 6))
    perm, sign = m["perm"], m["sign"]
    if perm is None:
        report["reason"] = "no one-to-one coordinate matching (fewer than half are clear mutual best matches)"
        return _Residual(report)
    report.update(moved_coordinates=int(np.sum(perm != np.arange(len(perm)))),
                  sign_flips=int(np.sum(sign < 0)))
    if not (m["matched"] >= m["identity"] + _ALIGN_GAIN and m["matched"] >= _ALIGN_MIN):
        report["reason"] = "the suspect's residual coordinates already match the base's"
        return _Residual(report)
    report["detected"] = True
    report["reason"] = "residual coordinates permuted; the other tensors are tested after undoing it"
    return _Residual(report, perm, sign, aligned_projection(profile.R, perm, sign))


# -- the comparison ---------------------------------------------------------------------------

def _verdict(p: float, opts: CompareOptions, n_entries: int) -> tuple[str, str]:
    if n_entries == 0:
        return "inconclusive", "no comparable weights"
    if p <= opts.alpha:
        return "derived", f"p = {p:.4g} <= alpha {opts.alpha}: independence rejected"
    if p > opts.independent_above:
        return "independent", f"p = {p:.4g} > {opts.independent_above}: no evidence of shared weights"
    return "inconclusive", f"{opts.alpha} < p = {p:.4g} <= {opts.independent_above}: weak evidence"


def _threads(options: CompareOptions | None):
    """A context that limits BLAS threads to ``options.threads`` (no-op when unset)."""
    import contextlib

    threads = options.threads if options is not None else None
    if threads is None:
        try:
            busy = os.getloadavg()[0] >= (os.cpu_count() or 1)
        except OSError:  # not available on this platform
            busy = False
        if not busy:
            return contextlib.nullcontext()
        threads = 1
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def compare_profile(profile: BaseProfile, suspect: Checkpoint | str | os.PathLike[str],
                    progress: Progress | None = None) -> Comparison:
    """Compare a prepared base (:class:`BaseProfile`) with one suspect checkpoint."""
    t0 = time.perf_counter()
    opts = profile.options
    own = not isinstance(suspect, Checkpoint)
    sck = open_checkpoint(suspect) if own else suspect
    try:
        return _compare(profile, sck, opts, progress, t0)
    finally:
        if own:
            sck.close()


def _compare(profile: BaseProfile, sck: Checkpoint, opts: CompareOptions,
             progress: Progress | None, t0: float) -> Comparison:
    slay = layout_of(sck)
    blay = profile.layout
    details: dict[str, Any] = {
        "base_parameters": profile.ck.n_parameters,
        "suspect_parameters": sck.n_parameters,
        "hidden_size": {"base": blay.hidden_size, "suspect": slay.hidden_size},
        "unaligned": {"base": len(blay.unaligned), "suspect": len(slay.unaligned)},
        "shape_mismatch": blay.shape_mismatch + slay.shape_mismatch,
        "method": {"units": opts.units, "proj_dim": profile.r, "top": opts.top,
                   "tokens": opts.tokens, "seed": opts.seed,
                   "null": "residual-coordinate permutations of the base (exact permutation test)"},
    }

    def finish(rows: list[LayerRow], reps: np.ndarray | None, n_entries: int, reason: str | None = None,
               p_override: float | None = None) -> Comparison:
        if reps is None or n_entries == 0:
            return Comparison(str(profile.ck.path), str(sck.path), "inconclusive", 1.0, 0.0, 0.0, 0.0, 0.0,
                              opts.permutations, opts.alpha, rows, reason or "no comparable weights",
                              time.perf_counter() - t0, details)
        p = exact_p_value(reps) if p_override is None else p_override
        null = reps[1:]
        std = float(null.std(ddof=1)) if len(null) > 1 else 0.0
        z = float((reps[0] - null.mean()) / std) if std > 0 else 0.0
        verdict, why = _verdict(p, opts, n_entries)
        return Comparison(str(profile.ck.path), str(sck.path), verdict, p, float(reps[0]), float(null.mean()),
                          std, z, opts.permutations, opts.alpha, rows, why, time.perf_counter() - t0, details)

    if slay.hidden_size != blay.hidden_size:
        return finish([], None, 0, f"hidden sizes differ ({blay.hidden_size} vs {slay.hidden_size}): "
                                   "the weights cannot be compared coordinate-wise")
    base_by_key = blay.by_key() if opts.direct else None
    entries: list[np.ndarray] = []
    rows: list[LayerRow] = []
    rng = np.random.default_rng([opts.seed, 0x70CE])

    # residual alignment: estimated from the embedding only, tested on the other tensors
    residual = _residual_alignment(profile, sck, blay, slay, opts)
    details["residual_permutation"] = residual.report
    R_a = residual.R_a
    entries_a: list[np.ndarray] = []

    # token-indexed matrices first: embedding and output head
    for label, bt, st in (("embed", blay.embed, slay.embed), ("head", blay.head, slay.head)):
        if bt is None or st is None:
            continue
        bid, sid, how = _token_pairs(profile.ck, sck, bt.shape[0], st.shape[0], opts.tokens, rng)
        if len(bid) == 0:
            continue
        brows, srows = _rows_in_order(profile.ck, bt.name, bid), _rows_in_order(sck, st.name, sid)
        reps = aligned_row_scores(brows, srows, profile.perms)
        entries.append(reps)
        shown, aligned = reps, False
        # the embedding estimated the alignment, so only the (untied) head joins the aligned test
        if R_a is not None and label == "head" and slay.embed is not None and st.name != slay.embed.name:
            shown = aligned_row_scores(brows, srows[:, residual.perm] * residual.sign, profile.perms)
            entries_a.append(shown)
            aligned = True
        p = exact_p_value(shown)
        rows.append(LayerRow(label, {"tokens": float(shown[0])}, float(shown[0]), float(shown[1:].mean()),
                             float(shown[1:].max()), p, p <= opts.alpha, None,
                             {"tokens": (bt.shape[0], st.shape[0])}, residual_aligned=aligned))
        details.setdefault("token_alignment", how)

    layers = sorted(set(blay.layers) & set(slay.layers))
    details["layers_compared"] = len(layers)
    details["layer_count"] = {"base": blay.n_layers, "suspect": slay.n_layers}
    for i, layer in enumerate(layers):
        group_reps: dict[str, np.ndarray] = {}
        group_reps_a: dict[str, np.ndarray] = {}
        units: dict[str, tuple[int, int]] = {}
        direct = _Direct()
        for group in GROUPS:
            stensors = slay.layers[layer].get(group)
            if not stensors or (layer, group) not in profile.samples:
                continue
            if R_a is None:
                (sp,) = _project_suspect_group(sck, stensors, profile.R, profile.ck, base_by_key, direct)
            else:
                sp, sp_a = _project_suspect_group(sck, stensors, np.concatenate([profile.R, R_a], axis=1),
                                                  profile.ck, base_by_key, direct, blocks=2)
            bp = profile.projected(layer, group)
            group_reps[group] = matched_scores(bp, sp, top=opts.top)
            if R_a is not None:
                group_reps_a[group] = matched_scores(bp, sp_a, top=opts.top)
            units[group] = (sum(t.n_units for t in blay.layers[layer][group]), len(sp))
        if group_reps:
            entries.extend(group_reps.values())
            entries_a.extend(group_reps_a.values())
            shown = group_reps_a if R_a is not None else group_reps
            layer_reps = np.mean(np.stack(list(shown.values())), axis=0)
            p = exact_p_value(layer_reps)
            rows.append(LayerRow(str(layer), {g: float(v[0]) for g, v in shown.items()},
                                 float(layer_reps[0]), float(layer_reps[1:].mean()), float(layer_reps[1:].max()),
                                 p, p <= opts.alpha, direct.value, units, residual_aligned=R_a is not None))
        if progress:
            progress("layers", i + 1, len(layers))
    if not entries:
        return finish(rows, None, 0, "no aligned tensors in common (unknown architecture naming?)")
    reps = np.mean(np.stack(entries), axis=0)
    details["entries"] = len(entries)
    if R_a is None or not entries_a:
        return finish(rows, reps, len(entries))
    # both statistics on the same permutations, combined by their larger z-score (exact, no Bonferroni factor)
    reps_a = np.mean(np.stack(entries_a), axis=0)
    p_u, p_a = exact_p_value(reps), exact_p_value(reps_a)
    residual.report.update(p_unaligned=p_u, p_aligned=p_a, statistic_unaligned=round(float(reps[0]), 6),
                           statistic_aligned=round(float(reps_a[0]), 6), entries_aligned=len(entries_a))
    return finish(rows, reps_a, len(entries), p_override=exact_p_value(max_z_combine(reps, reps_a)))


def compare(base_dir: str | os.PathLike[str], suspect_dir: str | os.PathLike[str],
            options: CompareOptions | None = None, progress: Progress | None = None) -> Comparison:
    """Test whether the weights in ``suspect_dir`` were derived from those in ``base_dir``.

    Both are model folders or weights files (safetensors, sharded safetensors, GGUF).
    Returns a :class:`Comparison` with ``verdict`` in ``derived`` / ``independent`` /
    ``inconclusive``, an exact permutation p-value, the statistic and a per-layer table.
    Raises :class:`railtrack.errors.InputError` when an input holds no readable weights.
    """
    with _threads(options):
        profile = BaseProfile(base_dir, options, progress=progress)
        try:
            return compare_profile(profile, suspect_dir, progress=progress)
        finally:
            profile.ck.close()


def _is_checkpoint(path: Path) -> bool:
    if path.is_file():
        return path.suffix in (".safetensors", ".gguf")
    return path.is_dir() and (any(path.glob("*.safetensors")) or any(path.glob("*.gguf")))


def find_candidates(dirs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Model folders/files named by ``dirs``: each is a model itself, or a folder of models."""
    out: list[Path] = []
    for d in dirs:
        path = Path(d)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if _is_checkpoint(path):
            out.append(path)
            continue
        found = sorted(p for p in path.iterdir() if _is_checkpoint(p))
        if not found:
            raise InputError(f"{path}: holds no model folders or weights files")
        out.extend(found)
    return out


def scan(base: str | os.PathLike[str], dirs: Iterable[str | os.PathLike[str]],
         options: CompareOptions | None = None,
         progress: Progress | None = None) -> list[Comparison]:
    """Compare every candidate under ``dirs`` with ``base``; one :class:`Comparison` each.

    The base is read once. A candidate that cannot be read gets verdict ``inconclusive``
    with the reason, so one bad download does not stop the scan.
    """
    candidates = find_candidates(dirs)
    with _threads(options):
        return _scan(base, candidates, options, progress)


def _scan(base: str | os.PathLike[str], candidates: list[Path], options: CompareOptions | None,
          progress: Progress | None) -> list[Comparison]:
    profile = BaseProfile(base, options)
    results: list[Comparison] = []
    try:
        for i, cand in enumerate(candidates):
            t0 = time.perf_counter()
            try:
                results.append(compare_profile(profile, cand))
            except RailtrackError as exc:
                opts = profile.options
                results.append(Comparison(str(profile.ck.path), str(cand), "inconclusive", 1.0, 0.0, 0.0, 0.0, 0.0,
                                          opts.permutations, opts.alpha, [], f"unreadable: {exc.message}",
                                          time.perf_counter() - t0, {"error": exc.message}))
            if progress:
                progress(str(cand), i + 1, len(candidates))
    finally:
        profile.ck.close()
    return results
