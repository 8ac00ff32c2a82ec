"""Evaluation with a real model: detection power, false positives on human text, robustness, quality cost.

``evaluate()`` (and ``railtrack watermark evaluate``) runs, for each (gamma, delta) setting,
watermarked generation with SmolLM2-135M-Instruct on a fixed set of prompts written for
railtrack, plus one unwatermarked generation on the same prompts, and measures:

* **TPR** at T = 50, 100, 200 tokens: the share of generated texts (re-tokenised from text,
  as a detector sees them) whose first T tokens reach z >= 4;
* **FPR** on human text: model-card prose from ``../shared/reference/hub-trees/*.csv``
  (YAML front matter, code, tables, HTML and URLs removed), cut into distinct
  non-overlapping passages of T tokens; and on the unwatermarked model output;
* **robustness**: 10% and 30% word deletion, 10% and 30% word substitution (random words
  from the human corpus), and the watermarked text pasted as 25% of a human document
  (whole-document z and windowed detection, with the windowed false-alarm rate on human
  documents of the same length);
* **perplexity** of the generated continuations under the same model without the
  watermark, for watermarked and unwatermarked text.
"""

from __future__ import annotations

import csv
import math
import re
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InputError, UsageError
from .detect import detect_ids_many, encode, windowed
from .keys import WatermarkKey

TS = (50, 100, 200)
Z = 4.0

_TOPICS = [
    "the history of lighthouses", "how bees communicate", "a rainy day in a big city", "the rules of chess",
    "growing tomatoes on a balcony", "the first voyage to the moon", "why the sky is blue", "a friendly robot",
    "the life of a river", "learning to play the violin", "a mountain village in winter", "the invention of paper",
    "how volcanoes form", "a day at a fish market", "the importance of sleep", "an old library",
    "training for a marathon", "the migration of birds", "baking sourdough bread", "a lost cat finding its way home",
    "the water cycle", "a night train across Europe", "how computers store numbers", "the desert at night",
    "a family recipe", "the ocean's deepest trenches", "building a wooden boat", "a festival of lights",
    "the life cycle of a star", "a small bookshop", "the benefits of walking", "how maps are made",
]
_TASKS = [
    "Write a short story about {t}.",
    "Write an informative essay about {t}.",
    "Describe {t} to a curious child.",
    "Write a blog post about {t}, with some personal opinions.",
]


def prompts(n: int) -> list[str]:
    """``n`` prompts (topics x task templates, written for railtrack's evaluation)."""
    allp = [task.format(t=topic) for task in _TASKS for topic in _TOPICS]
    if n > len(allp):
        raise UsageError(f"at most {len(allp)} evaluation prompts are available")
    return allp[:n]


def parse_settings(spec: str) -> list[tuple[float, float]]:
    """``"0.25:2,0.5:2"`` -> ``[(0.25, 2.0), (0.5, 2.0)]``."""
    out = []
    for part in spec.split(","):
        if not part.strip():
            continue
        try:
            g, d = part.split(":")
            out.append((float(g), float(d)))
        except ValueError:
            raise UsageError(f"settings are gamma:delta pairs, got {part!r}") from None
    if not out:
        raise UsageError("no gamma:delta settings given")
    return out


# --------------------------------------------------------------------------- human text

_FRONT = re.compile(r"\A\s*---\s*\n.*?\n---\s*\n", re.S)
_FENCE = re.compile(r"```.*?(```|\Z)|~~~.*?(~~~|\Z)", re.S)
_HTML = re.compile(r"<[^>\n]{0,400}>")
_IMG = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+")
_INLINE = re.compile(r"`[^`\n]*`")


def strip_card(card: str) -> str:
    """Prose of a model card: no YAML front matter, code, tables, HTML, images or URLs."""
    text = _FRONT.sub("", card or "")
    text = _FENCE.sub(" ", text)
    text = _IMG.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _HTML.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _INLINE.sub(" ", text)
    lines = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("|") or set(s) <= set("-=*_#> "):
            continue
        s = s.lstrip("#>*- ").strip()
        if s:
            lines.append(s)
    return re.sub(r"[ \t]+", " ", "\n".join(lines)).strip()


def default_human_dir() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent.parent / "shared" / "reference" / "hub-trees"
        if cand.is_dir():
            return cand
    return Path.cwd().parent / "shared" / "reference" / "hub-trees"


def _card_texts(folder: Path) -> list[str]:
    csv.field_size_limit(sys.maxsize)
    files = sorted(Path(folder).glob("*.csv"))
    if not files:
        raise InputError(f"no hub-trees CSV files in {folder}")
    out = []
    for f in files:
        with f.open("r", encoding="utf-8", errors="replace", newline="") as fh:
            for row in csv.DictReader(fh):
                out.append(strip_card(row.get("card") or ""))
    return out


def _license_texts(folder: Path) -> list[str]:
    out = []
    lic = folder.parent / "licenses"
    for f in sorted(lic.rglob("*")) if lic.is_dir() else []:
        if f.is_file():
            out.append(strip_card(f.read_text(encoding="utf-8", errors="replace")))
    return out


def _package_descriptions() -> list[str]:
    """Long descriptions (READMEs) of the installed Python distributions: human-written prose."""
    import importlib.metadata as md

    out, names = [], set()
    for dist in md.distributions():
        name = (dist.metadata.get("Name") or "").lower()
        if not name or name in names:
            continue
        names.add(name)
        body = dist.metadata.get_payload() or dist.metadata.get("Description") or ""
        if isinstance(body, str):
            out.append(strip_card(body))
    return out


def _debian_readmes() -> list[str]:
    import gzip

    out = []
    root = Path("/usr/share/doc")
    for f in sorted(root.glob("*/README*")) if root.is_dir() else []:
        try:
            raw = gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes()
            out.append(strip_card(raw.decode("utf-8", errors="replace")))
        except (OSError, EOFError):
            continue
    return out


def human_passages(folder: Path, tokenizer: Any, length: int, *, extra_sources: bool = True
                   ) -> tuple[list[np.ndarray], list[str], dict[str, int]]:
    """Distinct non-overlapping passages of ``length`` tokens of real human-written prose.

    Sources, in order: model-card prose from the hub-trees CSVs in ``folder``; with
    ``extra_sources``, also the reference license texts beside it, the long descriptions of
    the installed Python distributions and Debian's ``/usr/share/doc/*/README*`` files.
    Returns (passages, stripped card texts, passages per source).
    """
    sources: dict[str, list[str]] = {"model_cards": _card_texts(folder)}
    if extra_sources:
        sources["license_texts"] = _license_texts(folder)
        sources["python_package_readmes"] = _package_descriptions()
        sources["debian_readmes"] = _debian_readmes()
    passages: list[np.ndarray] = []
    counts: dict[str, int] = {}
    seen_docs: set[str] = set()
    seen: set[bytes] = set()
    cards: list[str] = []
    for name, texts in sources.items():
        uniq = []
        for t in texts:
            if len(t) > 200 and t not in seen_docs:
                seen_docs.add(t)
                uniq.append(t)
        if name == "model_cards":
            cards = uniq
        before = len(passages)
        for ids in encode(tokenizer, uniq):
            for a in range(0, ids.shape[0] - length + 1, length):
                chunk = ids[a : a + length]
                b = chunk.tobytes()
                if b not in seen:
                    seen.add(b)
                    passages.append(chunk)
        counts[name] = len(passages) - before
    return passages, cards, counts


# --------------------------------------------------------------------------- attacks

def delete_words(text: str, frac: float, rng: np.random.Generator) -> str:
    words = text.split(" ")
    keep = rng.random(len(words)) >= frac
    return " ".join(w for w, k in zip(words, keep) if k)


def substitute_words(text: str, frac: float, vocab: Sequence[str], rng: np.random.Generator) -> str:
    words = text.split(" ")
    out = []
    for w in words:
        out.append(vocab[int(rng.integers(len(vocab)))] if rng.random() < frac else w)
    return " ".join(out)


# --------------------------------------------------------------------------- main

def _rate(flags: Sequence[bool]) -> float:
    return float(np.mean(flags)) if len(flags) else float("nan")


def _log(msg: str) -> None:
    sys.stderr.write(f"railtrack: evaluate: {msg}\n")
    sys.stderr.flush()


def _gen_all(lm: Any, tok: Any, ps: list[str], key: WatermarkKey | None, tokens: int, batch_size: int,
             seed: int, work_dir: Path | None = None, any_count: bool = False
             ) -> tuple[list[list[int]], list[float], float]:
    """Generate (or reuse cached) continuations; the cache lets several processes share the work."""
    import json

    from .._io import atomic_write

    cache = None
    if work_dir is not None:
        label = "plain" if key is None else f"g{key.gamma}-d{key.delta}-h{key.context_width}-{key.seeding}"
        cache = Path(work_dir) / f"gen-{label}-n{len(ps)}-t{tokens}-s{seed}.json"
        if not cache.is_file() and any_count:  # a run with another number of prompts (the first n of the same list)
            found = sorted(Path(work_dir).glob(f"gen-{label}-n*-t{tokens}-s{seed}.json"),
                           key=lambda p: int(p.name.split("-n")[1].split("-")[0]))
            cache = found[-1] if found else cache
        if cache.is_file():
            doc = json.loads(cache.read_text(encoding="utf-8"))
            _log(f"reusing {cache.name}")
            return doc["gen"], doc["nll"], float(doc["seconds"])
    gen, nll, secs = _generate_batches(lm, tok, ps, key, tokens, batch_size, seed)
    if cache is not None:
        atomic_write(cache, json.dumps({"gen": gen, "nll": nll, "seconds": secs}))
    return gen, nll, secs


def _generate_batches(lm: Any, tok: Any, ps: list[str], key: WatermarkKey | None, tokens: int, batch_size: int,
                      seed: int) -> tuple[list[list[int]], list[list[int]], float]:
    from .generate import generate_ids

    gen: list[list[int]] = []
    nll: list[float] = []
    t0 = time.perf_counter()
    for a in range(0, len(ps), batch_size):
        batch = ps[a : a + batch_size]
        ids, batch_nll = generate_ids(lm, tok, batch, key, max_new_tokens=tokens, min_new_tokens=tokens,
                                      seed=seed + a, return_nll=True)
        gen.extend(ids)
        nll.extend(batch_nll)
        _log(f"generated {len(gen)}/{len(ps)} ({'watermark ' + key.fingerprint if key else 'no watermark'}, "
             f"{time.perf_counter() - t0:.0f}s)")
    return gen, nll, time.perf_counter() - t0


def evaluate(*, n_prompts: int = 128, tokens: int = 200, settings: Sequence[tuple[float, float]] = ((0.25, 2.0),),
             batch_size: int = 32, human_dir: Path | None = None, min_human: int = 2000, model: str | None = None,
             seed: int = 1234, key: WatermarkKey | None = None, work_dir: Path | None = None,
             generate_only: bool = False) -> dict[str, Any]:
    """Run the evaluation and return the results as a JSON-able dict (see module docstring)."""
    import torch

    from .models import load_model, tokenizer_info

    if tokens < max(TS):
        raise UsageError(f"--tokens must be at least {max(TS)}")
    started = time.perf_counter()
    lm, tok = load_model(model)
    if key is None and work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        kpath = Path(work_dir) / "eval-key.json"
        if kpath.is_file():
            key = WatermarkKey.load(kpath)
        else:
            key = WatermarkKey.generate()
            try:
                key.save(kpath)
            except UsageError:  # another process wrote it first
                key = WatermarkKey.load(kpath)
    base_key = key or WatermarkKey.generate()
    gen_tokens = tokens + 8  # re-tokenised text can be a few tokens shorter than the generated ids
    ps = prompts(n_prompts)
    if generate_only:  # delta 0 means the unwatermarked baseline
        for gamma, delta in settings:
            k = None if delta == 0 else base_key.with_params(gamma=gamma, delta=delta)
            _gen_all(lm, tok, ps, k, gen_tokens, batch_size, seed, work_dir)
        return {"generated": [list(s) for s in settings]}
    folder = Path(human_dir) if human_dir else default_human_dir()
    passages, cards, per_source = human_passages(folder, tok, max(TS))
    if len(passages) < min_human:
        raise InputError(f"only {len(passages)} human passages of {max(TS)} tokens in {folder} (need {min_human})")
    _log(f"{len(passages)} distinct human passages of {max(TS)} tokens from {len(cards)} model cards")
    rng = np.random.default_rng(seed)
    vocab = sorted({w for c in cards[:400] for w in c.split() if w.isalpha() and 2 < len(w) < 12})

    # unwatermarked baseline: quality reference and a second null sample
    base_gen, base_nll, base_secs = _gen_all(lm, tok, ps, None, gen_tokens, batch_size, seed, work_dir, any_count=True)
    base_ppl = [math.exp(x) for x in base_nll]
    base_texts = [tok.decode(g, skip_special_tokens=True) for g in base_gen]
    base_ids = encode(tok, base_texts)

    # human documents for the paste test: 3 distinct passages (~600 tokens) per document
    hum_docs_ids = [np.concatenate(passages[i : i + 3]) for i in range(0, 3 * n_prompts, 3)]
    hum_docs_text = [tok.decode(d.tolist()) for d in hum_docs_ids]

    results: list[dict[str, Any]] = []
    for gamma, delta in settings:
        k = base_key.with_params(gamma=gamma, delta=delta)
        gen, nll, secs = _gen_all(lm, tok, ps, k, gen_tokens, batch_size, seed, work_dir, any_count=True)
        texts = [tok.decode(g, skip_special_tokens=True) for g in gen]
        ids = encode(tok, texts)
        entry: dict[str, Any] = {"gamma": gamma, "delta": delta, "generation_seconds": round(secs, 1),
                                 "tpr": {}, "fpr_human": {}, "fpr_unwatermarked_model": {}, "median_z": {}}
        for T in TS:
            wm = [i[:T] for i in ids if i.shape[0] >= T]
            dets = detect_ids_many(wm, k, z_threshold=Z)
            entry["tpr"][str(T)] = {"rate": _rate([d.watermarked for d in dets]), "n": len(dets)}
            entry["median_z"][str(T)] = float(np.median([d.z_score for d in dets])) if dets else float("nan")
            hd = detect_ids_many([p[:T] for p in passages], k, z_threshold=Z)
            entry["fpr_human"][str(T)] = {"rate": _rate([d.watermarked for d in hd]), "n": len(hd),
                                          "false_positives": int(sum(d.watermarked for d in hd)),
                                          "max_z": float(max(d.z_score for d in hd))}
            bd = detect_ids_many([i[:T] for i in base_ids if i.shape[0] >= T], k, z_threshold=Z)
            entry["fpr_unwatermarked_model"][str(T)] = {"rate": _rate([d.watermarked for d in bd]), "n": len(bd)}
        # robustness at T = 200 (text-level attacks, then re-tokenised)
        rob: dict[str, Any] = {}
        for name, fn in (("delete_10", lambda t: delete_words(t, 0.10, rng)),
                         ("delete_30", lambda t: delete_words(t, 0.30, rng)),
                         ("substitute_10", lambda t: substitute_words(t, 0.10, vocab, rng)),
                         ("substitute_30", lambda t: substitute_words(t, 0.30, vocab, rng))):
            attacked = encode(tok, [fn(t) for t in texts])
            dets = detect_ids_many(attacked, k, z_threshold=Z)
            rob[name] = {"tpr": _rate([d.watermarked for d in dets]),
                         "median_z": float(np.median([d.z_score for d in dets])), "n": len(dets)}
        pasted, clean = [], []
        for t, h in zip(texts, hum_docs_text):
            cut = h.find(" ", len(h) // 2)
            cut = cut if cut > 0 else len(h) // 2
            pasted.append(h[:cut] + " " + t + " " + h[cut:])
            clean.append(h)
        p_ids, c_ids = encode(tok, pasted), encode(tok, clean)
        pd_ = detect_ids_many(p_ids, k, z_threshold=Z)
        pw = [windowed(i, k, windows=(100, 200)) for i in p_ids]
        cw = [windowed(i, k, windows=(100, 200)) for i in c_ids]
        zb = 3.1671e-05  # the normal tail at z = 4
        rob["paste_25"] = {
            "tpr_whole_document": _rate([d.watermarked for d in pd_]),
            "median_z_whole_document": float(np.median([d.z_score for d in pd_])),
            "tpr_window_z4": _rate([w.z_score >= Z for w in pw]),
            "fpr_window_z4_human": _rate([w.z_score >= Z for w in cw]),
            "tpr_window_bonferroni": _rate([w.p_value_bonferroni <= zb for w in pw]),
            "fpr_window_bonferroni_human": _rate([w.p_value_bonferroni <= zb for w in cw]),
            "watermarked_share_tokens": float(np.mean([len(i) for i in ids]) / np.mean([len(i) for i in p_ids])),
            "n": len(pd_),
        }
        entry["robustness"] = rob
        ppl = [math.exp(x) for x in nll]
        n_c = min(len(ppl), len(base_ppl))  # the same prompts on both sides
        entry["perplexity"] = {"prompts": n_c,
                               "watermarked_median": float(np.nanmedian(ppl[:n_c])),
                               "watermarked_mean": float(np.nanmean(ppl[:n_c])),
                               "unwatermarked_median": float(np.nanmedian(base_ppl[:n_c])),
                               "unwatermarked_mean": float(np.nanmean(base_ppl[:n_c]))}
        entry["sample"] = texts[0][:400]
        results.append(entry)
        _log(f"gamma {gamma} delta {delta}: TPR@200 {entry['tpr']['200']['rate']:.3f}, "
             f"FPR human {entry['fpr_human']['200']['rate']:.4f}")
    return {
        "model": getattr(lm, "name_or_path", str(model)),
        "tokenizer": tokenizer_info(tok),
        "key_fingerprint": base_key.fingerprint,
        "z_threshold": Z,
        "tokens": list(TS),
        "prompts": len(ps),
        "sampling": "multinomial, temperature 1, no top-k/top-p, min_new_tokens = max_new_tokens",
        "human_corpus": {"source": str(folder), "cards": len(cards), "passages": len(passages),
                         "passages_per_source": per_source, "passage_tokens": max(TS)},
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "baseline_generation_seconds": round(base_secs, 1),
        "settings": results,
        "seconds": round(time.perf_counter() - started, 1),
    }


def format_tables(res: dict[str, Any]) -> str:
    """Plain-text tables of the evaluation results."""
    lines = [f"model: {res['model']}; up to {res['prompts']} prompts; human passages: {res['human_corpus']['passages']}",
             "", "gamma delta texts | TPR@50 TPR@100 TPR@200 | FPR human @50 @100 @200 | FPR unwatermarked @200 | ppl wm / plain"]
    for e in res["settings"]:
        t, f = e["tpr"], e["fpr_human"]
        lines.append(f"{e['gamma']:<5} {e['delta']:<5} {t['200']['n']:<5} | "
                     f"{t['50']['rate']:.3f} {t['100']['rate']:.3f} {t['200']['rate']:.3f} | "
                     f"{f['50']['rate']:.4f} {f['100']['rate']:.4f} {f['200']['rate']:.4f} | "
                     f"{e['fpr_unwatermarked_model']['200']['rate']:.4f} | "
                     f"{e['perplexity']['watermarked_median']:.2f} / {e['perplexity']['unwatermarked_median']:.2f}")
    lines += ["", "robustness (T=200, z>=4): gamma delta | del10 del30 sub10 sub30 | paste25 whole / window (human FA)"]
    for e in res["settings"]:
        r = e["robustness"]
        p = r["paste_25"]
        lines.append(f"{e['gamma']:<5} {e['delta']:<5} | {r['delete_10']['tpr']:.3f} {r['delete_30']['tpr']:.3f} "
                     f"{r['substitute_10']['tpr']:.3f} {r['substitute_30']['tpr']:.3f} | "
                     f"{p['tpr_whole_document']:.3f} / {p['tpr_window_z4']:.3f} ({p['fpr_window_z4_human']:.3f})")
    return "\n".join(lines)
