"""Detection throughput: railtrack's detector vs transformers' ``WatermarkDetector``, on one CPU core.

    .venv/bin/python benchmarks/bench_watermark.py [--docs 4000] [--hf-docs 40] [--out benchmarks/results/watermark_bench.json]

Texts are model-card prose from ``../shared/reference/hub-trees`` tokenised with SmolLM2's
tokenizer (random ids when the reference data is absent), cut into 200-token documents.
The process is pinned to one core and numpy/torch/tokenizers run single-threaded.

Printed (and written as JSON):
* railtrack scoring throughput on token ids (repeated n-grams de-duplicated, exact p-values);
* railtrack end-to-end throughput from text (tokenisation included);
* transformers' ``WatermarkDetector`` (lefthash, its own torch-RNG green lists) and railtrack on
  the *same* documents side by side, and railtrack's transformers-compatible detector on them.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _pin_one_core() -> str:
    try:
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return "not pinned"


CPU_TIMES: dict[int, float] = {}


def _best(fn, repeat: int = 3) -> float:
    """Best wall time of ``repeat`` runs; the CPU time of that run is kept in CPU_TIMES.

    On a shared, oversubscribed machine the process gets only part of its core, so the
    CPU time (``time.process_time``, single-threaded here) is the time the work needs on
    one core; both are reported.
    """
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    CPU_TIMES[id(fn)] = best_cpu
    return best


def _timed(fn, repeat: int = 3) -> tuple[float, float]:
    wall = _best(fn, repeat)
    return wall, CPU_TIMES[id(fn)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=5000, help="200-token documents for the railtrack runs")
    ap.add_argument("--hf-docs", type=int, default=40, help="documents for the side-by-side run with transformers")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "watermark_bench.json")
    args = ap.parse_args()
    pin = _pin_one_core()

    import torch

    torch.set_num_threads(1)
    from railtrack.watermark.compat import TransformersWatermark
    from railtrack.watermark.detect import detect_ids_many, detect_many
    from railtrack.watermark.evaluate import default_human_dir, human_passages
    from railtrack.watermark.keys import WatermarkKey
    from railtrack.watermark.models import load_tokenizer

    tok = load_tokenizer()
    folder = default_human_dir()
    source = "model-card prose (hub-trees) + other human prose, SmolLM2 tokenizer"
    try:
        passages, _, _ = human_passages(folder, tok, 200)
    except Exception:
        rng = np.random.default_rng(0)
        passages = [rng.integers(0, 49152, size=200) for _ in range(2000)]
        source = "random ids (reference data absent)"
    docs = [passages[i % len(passages)] for i in range(args.docs)]
    texts = [tok.decode(d.tolist()) for d in docs]
    n_tokens = sum(len(d) for d in docs)
    key = WatermarkKey.generate(gamma=0.25, delta=2.0)

    detect_ids_many(docs[:10], key)  # warm-up (lazy imports)
    t_ids, c_ids = _timed(lambda: detect_ids_many(docs, key))
    t_text, c_text = _timed(lambda: detect_many(texts, key, tok))

    # side by side with transformers on the same documents
    from transformers import LlamaConfig, WatermarkDetector, WatermarkingConfig

    sub = np.stack(docs[: args.hf_docs])
    sub_tokens = int(sub.size)
    cfg = LlamaConfig(vocab_size=len(tok), bos_token_id=tok.bos_token_id if tok.bos_token_id is not None else -1)
    wcfg = WatermarkingConfig(greenlist_ratio=0.25, bias=2.0, seeding_scheme="lefthash", context_width=1)
    hf = WatermarkDetector(cfg, "cpu", wcfg, ignore_repeated_ngrams=True)
    sub_t = torch.tensor(sub)
    t_hf, c_hf = _timed(lambda: hf(sub_t, return_dict=True), repeat=1)
    t_ours_sub, c_ours_sub = _timed(lambda: detect_ids_many(list(sub), key))
    compat = TransformersWatermark.from_config(wcfg, len(tok))
    t_compat_cold = _best(lambda: detect_ids_many(list(sub), TransformersWatermark.from_config(wcfg, len(tok))), 1)
    t_compat_warm = _best(lambda: detect_ids_many(list(sub), compat))
    ref = hf(sub_t, return_dict=True)
    ours_compat = detect_ids_many(list(sub), compat)
    same = [d.green_tokens for d in ours_compat] == ref.num_green_tokens.astype(int).tolist()

    res = {
        "benchmark": "watermark detection throughput",
        "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "machine": f"{platform.machine()} {os.cpu_count()}-core CPU (shared, under load), {pin}",
        "python": platform.python_version(), "torch": torch.__version__,
        "texts": source, "documents": len(docs), "tokens": n_tokens,
        "railtrack_ids_tokens_per_s": n_tokens / t_ids,
        "railtrack_ids_tokens_per_cpu_s": n_tokens / c_ids,
        "railtrack_text_tokens_per_s": n_tokens / t_text,
        "railtrack_text_tokens_per_cpu_s": n_tokens / c_text,
        "side_by_side": {
            "documents": len(sub), "tokens": sub_tokens,
            "transformers_WatermarkDetector_tokens_per_s": sub_tokens / t_hf,
            "railtrack_tokens_per_s": sub_tokens / t_ours_sub,
            "speedup": t_hf / t_ours_sub,
            "transformers_WatermarkDetector_tokens_per_cpu_s": sub_tokens / c_hf,
            "railtrack_tokens_per_cpu_s": sub_tokens / max(c_ours_sub, 1e-9),
            "speedup_cpu": c_hf / max(c_ours_sub, 1e-9),
            "railtrack_transformers_compat_cold_tokens_per_s": sub_tokens / t_compat_cold,
            "railtrack_transformers_compat_warm_tokens_per_s": sub_tokens / t_compat_warm,
            "compat_counts_equal_transformers": same,
        },
        "targets": {"tokens_per_s_one_core": 1_000_000, "speedup_vs_transformers": 10},
    }
    print(json.dumps(res, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO / "src"))
    from railtrack._io import atomic_write

    atomic_write(args.out, json.dumps(res, indent=2) + "\n")
    ok = res["railtrack_ids_tokens_per_s"] >= 1e6 and res["side_by_side"]["speedup"] >= 10
    print(f"railtrack: {res['railtrack_ids_tokens_per_s']:,.0f} tokens/s from ids "
          f"({res['railtrack_ids_tokens_per_cpu_s']:,.0f} per CPU-second), "
          f"{res['railtrack_text_tokens_per_s']:,.0f} tokens/s from text; "
          f"transformers WatermarkDetector {res['side_by_side']['transformers_WatermarkDetector_tokens_per_s']:,.0f} "
          f"tokens/s; speedup {res['side_by_side']['speedup']:,.0f}x -> {'OK' if ok else 'BELOW TARGET'}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
