"""Benchmark: compare two synthetic 1B-parameter bf16 checkpoints (Llama-like shapes).

    .venv/bin/python benchmarks/bench_provenance.py [--cache /tmp/railtrack-bench-provenance]
                                                    [--with-independent] [--layers 22]

Generates (once; reused from the cache folder on later runs) a base checkpoint and a
derived one - the base plus Gaussian noise (relative std 0.5, i.e. cosine about 0.9 per
tensor), with every layer's MLP hidden units and attention heads permuted - as bf16
safetensors, streamed tensor by tensor so the generator never holds a model in memory.
A third checkpoint, ``derived_residual``, is the derived one with its residual-stream
(hidden-size) coordinates also permuted and sign-flipped consistently in every tensor
(embedding, norms, all projections, output head: function-preserving), which the test
must undo before it can see the shared weights.
Then runs ``railtrack provenance compare BASE DERIVED --json`` in a fresh process and
prints its wall time and peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``) and the
extrapolation to an 8B model (Llama-3-8B shapes). Targets: <= 60 s, <= 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# TinyLlama-1.1B-like shapes (untied embeddings): 1.10e9 parameters
SHAPES_1B = dict(vocab=32000, d=2048, layers=22, heads=32, kv_heads=4, inter=5632)
SHAPES_8B = dict(vocab=128256, d=4096, layers=32, heads=32, kv_heads=8, inter=14336)
STD = 0.02
NOISE = 0.5  # relative noise std of the derived copy


def n_params(s: dict) -> int:
    hd = s["d"] // s["heads"]
    per_layer = (2 * s["d"] * s["d"] + 2 * s["d"] * s["kv_heads"] * hd + 3 * s["d"] * s["inter"] + 2 * s["d"])
    return 2 * s["vocab"] * s["d"] + s["layers"] * per_layer + s["d"]


def tensor_specs(s: dict) -> list[tuple[str, tuple[int, ...]]]:
    d, hd = s["d"], s["d"] // s["heads"]
    out = [("model.embed_tokens.weight", (s["vocab"], d))]
    for i in range(s["layers"]):
        p = f"model.layers.{i}."
        out += [
            (p + "input_layernorm.weight", (d,)),
            (p + "self_attn.q_proj.weight", (s["heads"] * hd, d)),
            (p + "self_attn.k_proj.weight", (s["kv_heads"] * hd, d)),
            (p + "self_attn.v_proj.weight", (s["kv_heads"] * hd, d)),
            (p + "self_attn.o_proj.weight", (d, s["heads"] * hd)),
            (p + "post_attention_layernorm.weight", (d,)),
            (p + "mlp.gate_proj.weight", (s["inter"], d)),
            (p + "mlp.up_proj.weight", (s["inter"], d)),
            (p + "mlp.down_proj.weight", (d, s["inter"])),
        ]
    out += [("model.norm.weight", (d,)), ("lm_head.weight", (s["vocab"], d))]
    return out


def to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> raw bfloat16 bits, round to nearest even."""
    u = x.astype(np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def layer_perms(s: dict, layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MLP unit permutation, q-row permutation and kv-row permutation (heads moved with their group)."""
    rng = np.random.default_rng([99, layer])
    hd, n_kv = s["d"] // s["heads"], s["kv_heads"]
    per_group = s["heads"] // n_kv
    mlp = rng.permutation(s["inter"])
    kv = rng.permutation(n_kv)
    q_heads = np.concatenate([kv[j] * per_group + rng.permutation(per_group) for j in range(n_kv)])
    q_rows = np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in q_heads])
    kv_rows = np.concatenate([np.arange(h * hd, (h + 1) * hd) for h in kv])
    return mlp, q_rows, kv_rows


def base_tensor(name: str, shape: tuple[int, ...], seed: int, rows: slice | None = None) -> np.ndarray:
    """Deterministic synthetic tensor (rows ``rows`` of it), generated in row blocks."""
    if len(shape) == 1:
        return (1.0 + 0.05 * np.random.default_rng([seed, hash_name(name)]).standard_normal(shape)).astype(np.float32)
    rows = rows or slice(0, shape[0])
    block = 4096
    parts = []
    for b0 in range(rows.start - rows.start % block, rows.stop, block):
        rng = np.random.default_rng([seed, hash_name(name), b0])
        chunk = rng.standard_normal((min(block, shape[0] - b0), shape[1]), dtype=np.float32) * STD
        lo, hi = max(rows.start, b0) - b0, min(rows.stop, b0 + block) - b0
        parts.append(chunk[lo:hi])
    return np.concatenate(parts, axis=0)


def hash_name(name: str) -> int:
    import zlib

    return zlib.crc32(name.encode())


def residual_perm(s: dict) -> tuple[np.ndarray, np.ndarray]:
    """A signed permutation of the residual-stream coordinates: (perm, sign)."""
    rng = np.random.default_rng(77)
    return rng.permutation(s["d"]), np.where(rng.random(s["d"]) < 0.5, -1.0, 1.0).astype(np.float32)


def write_checkpoint(folder: Path, s: dict, seed: int, derived_from: int | None, residual: bool = False) -> None:
    """Stream a bf16 safetensors checkpoint to ``folder/model.safetensors``.

    ``residual``: also permute (and sign-flip) the residual coordinates of every tensor.
    """
    rperm, rsign = residual_perm(s)
    folder.mkdir(parents=True, exist_ok=True)
    specs = tensor_specs(s)
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in specs:
        nbytes = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    tmp = folder / "model.safetensors.tmp"
    with open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)))
        fh.write(raw)
        for name, shape in specs:
            layer = int(name.split(".")[2]) if ".layers." in name else None
            perm_rows = perm_cols = None
            if derived_from is not None and layer is not None:
                mlp, q_rows, kv_rows = layer_perms(s, layer)
                if name.endswith(("gate_proj.weight", "up_proj.weight")):
                    perm_rows = mlp
                elif name.endswith("down_proj.weight"):
                    perm_cols = mlp
                elif name.endswith("q_proj.weight"):
                    perm_rows = q_rows
                elif name.endswith(("k_proj.weight", "v_proj.weight")):
                    perm_rows = kv_rows
                elif name.endswith("o_proj.weight"):
                    perm_cols = q_rows
            # residual coordinates: columns of readers (and of the token matrices), rows of writers
            res_cols = residual and name.endswith(("embed_tokens.weight", "lm_head.weight", "q_proj.weight",
                                                   "k_proj.weight", "v_proj.weight", "gate_proj.weight",
                                                   "up_proj.weight"))
            res_rows = residual and name.endswith(("o_proj.weight", "down_proj.weight"))
            if res_rows:
                perm_rows = rperm
            src_seed = derived_from if derived_from is not None else seed
            if len(shape) == 1:
                x = base_tensor(name, shape, src_seed)
                fh.write(to_bf16(x[rperm] if residual else x).tobytes())
                continue
            step = max(1, (8 << 20) // shape[1])
            full = base_tensor(name, shape, src_seed) if perm_rows is not None else None
            for a in range(0, shape[0], step):
                b = min(shape[0], a + step)
                if full is not None:
                    x = full[perm_rows[a:b]]
                else:
                    x = base_tensor(name, shape, src_seed, slice(a, b))
                if perm_cols is not None:
                    x = x[:, perm_cols]
                if res_cols:
                    x = x[:, rperm] * rsign[None, :]
                if res_rows:
                    x = x * rsign[a:b, None]
                if derived_from is not None:
                    rng = np.random.default_rng([seed, hash_name(name), a])
                    x = x + rng.standard_normal(x.shape, dtype=np.float32) * (STD * NOISE)
                fh.write(to_bf16(x).tobytes())
            del full
    os.replace(tmp, folder / "model.safetensors")
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": s["d"],
           "intermediate_size": s["inter"], "num_hidden_layers": s["layers"], "num_attention_heads": s["heads"],
           "num_key_value_heads": s["kv_heads"], "vocab_size": s["vocab"], "torch_dtype": "bfloat16",
           "tie_word_embeddings": False}
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))


def ensure(folder: Path, s: dict, seed: int, derived_from: int | None, residual: bool = False) -> None:
    if (folder / "model.safetensors").is_file() and (folder / "config.json").is_file():
        print(f"reusing {folder}", file=sys.stderr)
        return
    t0 = time.perf_counter()
    write_checkpoint(folder, s, seed, derived_from, residual)
    print(f"generated {folder} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def run_compare(base: Path, suspect: Path, extra: list[str]) -> tuple[float, float, float, dict]:
    """Wall time (s), peak RSS (MB), CPU time (user + system, s) and the JSON report of one comparison."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = usage.ru_maxrss
    cpu0 = usage.ru_utime + usage.ru_stime
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "railtrack", "provenance", "compare", str(base), str(suspect),
                           "--json", *extra], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_kb = usage.ru_maxrss
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    if proc.returncode not in (0, 1):
        sys.exit(f"compare failed ({proc.returncode}): {proc.stderr.strip()}")
    if peak_kb < before:
        peak_kb = before
    return wall, peak_kb / 1024.0, cpu, json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/railtrack-bench-provenance"))
    ap.add_argument("--with-independent", action="store_true",
                    help="also generate an independent checkpoint and time that comparison")
    ap.add_argument("--layers", type=int, default=SHAPES_1B["layers"])
    ap.add_argument("--no-residual", action="store_true",
                    help="skip the residual-permuted derived checkpoint")
    ap.add_argument("--threads", type=int, default=None,
                    help="pass --threads to the comparison (1 avoids BLAS oversubscription on a shared machine)")
    args = ap.parse_args()
    s = dict(SHAPES_1B, layers=args.layers)
    base, derived, indep = args.cache / "base", args.cache / "derived", args.cache / "independent"
    ensure(base, s, seed=1, derived_from=None)
    ensure(derived, s, seed=2, derived_from=1)
    pairs = [("derived", derived)]
    if not args.no_residual:
        ensure(args.cache / "derived_residual", s, seed=2, derived_from=1, residual=True)
        pairs.append(("derived, residual-permuted", args.cache / "derived_residual"))
    if args.with_independent:
        ensure(indep, s, seed=3, derived_from=None)
        pairs.append(("independent", indep))
    p1 = n_params(s)
    p8 = n_params(SHAPES_8B)
    size_gb = (base / "model.safetensors").stat().st_size / 1e9
    print(f"checkpoints: {p1 / 1e9:.2f}B parameters each, bf16, {size_gb:.2f} GB per file")
    for label, suspect in pairs:
        extra = ["--threads", str(args.threads)] if args.threads else []
        wall, peak_mb, cpu, result = run_compare(base, suspect, extra)
        res = result.get("residual_permutation", {})
        print(f"compare base vs {label}: verdict={result['verdict']} p={result['p_value']:.4g} "
              f"statistic={result['statistic']:.4f} null_mean={result['null_mean']:.4f} z={result['z']:.1f} "
              f"residual_permutation_detected={res.get('detected')}")
        print(f"  threads: {args.threads or 'default'}; wall time {wall:.1f} s (target <= 60 s), CPU time {cpu:.1f} s, "
              f"peak RSS {peak_mb:.0f} MB (target <= 2048 MB)")
        scale = p8 / p1
        # memory: the per-process floor plus what grows with d (permuted projections, sampled units,
        # similarity blocks) - scaled by d and by the largest unit group
        d1, d8 = s["d"], SHAPES_8B["d"]
        rstack = lambda d: d * 100 * 128 * 4 / 2**20  # noqa: E731
        sims = lambda inter: 16 * 32 * 2 * inter * 4 / 2**20  # noqa: E731
        chunk = 32.0  # streamed read chunk (MB), independent of model size
        est_mem = peak_mb + (rstack(d8) - rstack(d1)) + (sims(SHAPES_8B["inter"]) - sims(s["inter"])) + chunk
        print(f"  extrapolation to 8B ({p8 / 1e9:.2f}B parameters, x{scale:.1f}): "
              f"~{wall * scale:.0f} s, ~{est_mem:.0f} MB peak RSS")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


if __name__ == "__main__":
    main()
