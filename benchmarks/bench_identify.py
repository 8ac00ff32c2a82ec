"""Benchmark: license identification throughput, index load time and accuracy, against ScanCode.

Corpus (written to a temporary folder, or --corpus DIR), at least 2,000 files:

* every registry reference text (shipped in ``src/railtrack/catalog/texts``) verbatim and in
  the variants real repositories produce (Markdown, re-wrapped, pasted in a README, 30 %
  truncated, quotes swapped, HTML, extra header/footer, 50 % / 90 % truncated) - labelled;
* every AI license pasted into real model cards from ``../shared/reference/hub-trees`` - labelled;
* real model cards from ``../shared/reference/hub-trees/*.csv`` (column ``card``) - unlabelled
  (ground truth unknown: many cards paste a license, most do not), used for speed and for
  agreement between the tools;
* negatives: railtrack's own Python sources and prose/code fixtures - labelled ``unknown``.

railtrack is measured in this process on one core: index load (registry + shingle index,
after imports), then ``identify_file(path, clauses=False)`` over the whole corpus, and again
with clause extraction.

ScanCode (``scancode-toolkit-mini``, benchmark-only, never a railtrack dependency) runs in a
separate virtualenv ``.venv-scancode`` with one process (``-n 1``). Install it with::

    python3.11 -m venv .venv-scancode
    .venv-scancode/bin/pip install scancode-toolkit-mini==32.5.0 pluggy==1.5.0
    # pluggy 1.6+ breaks ScanCode 32.5's plugin loading; 1.5.0 is the last that works

ScanCode's top-1 answer for a file is the license of its longest match; a lenient score
(the expected license anywhere among its detections in the file) is printed as well.

ScanCode is much slower, so by default it scans a stratified sample of the corpus
(``--scancode-sample``, default 400 files, all strata represented); its throughput is
measured on that sample and railtrack's accuracy is reported on the same sample as well as on
the full corpus. ``--scancode-sample 0`` scans the whole corpus.

Accuracy on AI licenses = share of labelled AI-license files whose top-1 answer is the exact
registry id (including version). ScanCode answers are mapped to registry ids through the
registry's ScanCode keys; ScanCode has no key at all for the Llama 3 license and the Llama
2 / 3 / 3.1 / 3.2 acceptable-use policies, so the accuracy is also reported on the subset
ScanCode knows.

Run::

    .venv/bin/python benchmarks/bench_identify.py [--scancode-sample N] [--no-scancode] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "reference"
sys.path.insert(0, str(REPO / "tests" / "fixtures" / "identify"))

OPEN_SOURCE_FAMILIES = {"apache", "mit", "bsd", "afl", "gpl", "creative-commons", "public-domain"}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_corpus(root: Path, seed: int = 7) -> list[dict]:
    """Write the corpus under ``root``; return [{path, expected, stratum, ai}]."""
    from variants import VARIANTS, embed_in_readme, truncate

    from railtrack.catalog.registry import load_registry

    rnd = random.Random(seed)
    reg = load_registry()
    items: list[dict] = []

    def add(rel: str, text: str, expected: str | None, stratum: str, ai: bool) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        items.append({"path": str(p), "expected": expected, "stratum": stratum, "ai": ai})

    # 1. reference texts and their variants
    variants = dict(VARIANTS)
    variants["truncated50"] = lambda t: truncate(t, 0.5)
    variants["truncated90"] = lambda t: truncate(t, 0.9)
    for e in reg.with_text():
        text = e.read_text()
        ai = e.family not in OPEN_SOURCE_FAMILIES
        add(f"reference/{e.id}/LICENSE", text, e.id, "reference", ai)
        for name, fn in variants.items():
            suffix = {"markdown": ".md", "readme": ".md", "html": ".html"}.get(name, ".txt")
            add(f"variants/{e.id}/{name}/LICENSE{suffix}", fn(text), e.id, "variant", ai)

    # 2. real model cards (unlabelled) and AI licenses pasted into real cards (labelled)
    cards: list[tuple[str, str]] = []
    hosts: list[tuple[str, str]] = []  # short cards of the MIT-licensed phi-2 tree: no license text
    if SHARED.is_dir():
        csv.field_size_limit(10**9)
        for path in sorted((SHARED / "hub-trees").glob("*.csv")):
            with path.open(encoding="utf-8", newline="") as fh:
                for row in csv.DictReader(fh):
                    card = row.get("card") or ""
                    if card.strip():
                        cards.append((row.get("model_id") or f"row{len(cards)}", card))
                        if path.name.startswith("phi-2") and len(card) < 4000 and "agreement" not in card.lower():
                            hosts.append(cards[-1])
    for i, (model_id, card) in enumerate(cards):
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)[:80]
        add(f"cards/{i:04d}_{safe}/README.md", card, None, "card", False)
    ai_entries = [e for e in reg.with_text() if e.family not in OPEN_SOURCE_FAMILIES]
    if hosts:
        for e in ai_entries:
            for j in range(14):
                _mid, card = rnd.choice(hosts)
                text = e.read_text()
                if j % 2:
                    text = truncate(text, 0.7)
                pasted = card.rstrip() + "\n\n## License\n\n" + text + "\n"
                add(f"pasted/{e.id}/{j}/README.md", pasted, e.id, "pasted", True)
    else:  # no shared data: paste into a synthetic card
        for e in ai_entries:
            add(f"pasted/{e.id}/0/README.md", embed_in_readme(e.read_text(), "other"), e.id, "pasted", True)

    # 3. negatives: our own sources and prose fixtures
    for p in sorted((REPO / "src" / "railtrack").rglob("*.py")):
        add(f"negatives/src/{p.relative_to(REPO / 'src').as_posix()}.txt", p.read_text(encoding="utf-8"),
            "unknown", "negative", False)
    for p in sorted((REPO / "tests" / "fixtures" / "identify").glob("*not-in-registry*")) + [
            REPO / "tests" / "fixtures" / "identify" / "prose.md"]:
        add(f"negatives/fixtures/{p.name}", p.read_text(encoding="utf-8"), "unknown", "negative", False)
    return items


def run_railtrack(items: list[dict], clauses: bool) -> tuple[dict[str, str], float]:
    from railtrack.identify.api import identify_file

    answers: dict[str, str] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    for it in items:
        answers[it["path"]] = identify_file(it["path"], clauses=clauses).license
    run_railtrack.cpu_s = time.process_time() - c0  # type: ignore[attr-defined]
    return answers, time.perf_counter() - t0


def _child_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def scancode_bin() -> Path | None:
    p = REPO / ".venv-scancode" / "bin" / "scancode"
    return p if p.exists() else None


def run_scancode(items: list[dict], workdir: Path) -> tuple[dict[str, str | None], float, float]:
    """Copy the files to a folder, scan it with one process; (answers, seconds, startup seconds)."""
    from railtrack.catalog.registry import load_registry

    reg = load_registry()
    by_key = {e.scancode: e.id for e in reg if e.scancode}
    src = workdir / "scan"
    src.mkdir(parents=True, exist_ok=True)
    mapping: dict[str, str] = {}
    for i, it in enumerate(items):
        name = f"{i:05d}_{Path(it['path']).name}"
        shutil.copyfile(it["path"], src / name)
        mapping[name] = it["path"]
    exe = str(scancode_bin())
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    empty = workdir / "empty"
    empty.mkdir(exist_ok=True)
    t0, c0 = time.perf_counter(), _child_cpu()
    subprocess.run([exe, "--license", "-n", "1", "--quiet", "--json", str(workdir / "empty.json"), str(empty)],
                   check=True, env=env, capture_output=True)
    startup = time.perf_counter() - t0
    run_scancode.startup_cpu_s = _child_cpu() - c0  # type: ignore[attr-defined]
    out = workdir / "scan.json"
    t0, c0 = time.perf_counter(), _child_cpu()
    subprocess.run([exe, "--license", "-n", "1", "--timeout", "300", "--quiet", "--json", str(out), str(src)],
                   check=True, env=env, capture_output=True)
    seconds = time.perf_counter() - t0
    run_scancode.cpu_s = _child_cpu() - c0  # type: ignore[attr-defined]
    data = json.loads(out.read_text(encoding="utf-8"))
    answers: dict[str, str | None] = {}
    anywhere: dict[str, set[str]] = {}
    for f in data.get("files", []):
        if f.get("type") != "file":
            continue
        best_key, best_len = None, 0
        keys: set[str] = set()
        for det in f.get("license_detections") or []:
            for m in det.get("matches") or []:
                for key in re.findall(r"[A-Za-z0-9.+_-]+", m.get("license_expression") or ""):
                    if key.upper() in {"AND", "OR", "WITH"}:
                        continue
                    keys.add(by_key.get(key, f"scancode:{key}"))
                    if m.get("matched_length", 0) > best_len:
                        best_key, best_len = key, m.get("matched_length", 0)
        path = mapping[Path(f["path"]).name]
        answers[path] = by_key.get(best_key, f"scancode:{best_key}") if best_key else "unknown"
        anywhere[path] = keys
    run_scancode.anywhere = anywhere  # type: ignore[attr-defined]
    return answers, seconds, startup


def accuracy(items: list[dict], answers: dict, pred: callable = lambda it: True) -> tuple[int, int]:
    sel = [it for it in items if it["expected"] is not None and pred(it)]
    ok = sum(1 for it in sel if answers.get(it["path"]) == it["expected"])
    return ok, len(sel)


def stratified_sample(items: list[dict], n: int, seed: int = 11) -> list[dict]:
    if n <= 0 or n >= len(items):
        return list(items)
    rnd = random.Random(seed)
    by: dict[str, list[dict]] = {}
    for it in items:
        by.setdefault(it["stratum"], []).append(it)
    out: list[dict] = []
    for stratum, group in sorted(by.items()):
        k = max(1, round(n * len(group) / len(items)))
        out += rnd.sample(group, min(k, len(group)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, help="write the corpus here (default: a temporary folder)")
    ap.add_argument("--scancode-sample", type=int, default=400, help="files ScanCode scans (0 = all)")
    ap.add_argument("--no-scancode", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)

    t_import = time.perf_counter()
    import railtrack.identify  # noqa: F401
    from railtrack.catalog.registry import load_registry
    from railtrack.identify.index import load_index, reset_index
    import_s = time.perf_counter() - t_import

    tmp = Path(tempfile.mkdtemp(prefix="rt-bench-identify-"))
    root = args.corpus or (tmp / "corpus")
    try:
        items = build_corpus(root)
        strata = Counter(it["stratum"] for it in items)
        _log(f"corpus: {len(items)} files {dict(strata)} in {root}")

        load_registry.cache_clear()
        reset_index()
        t0, c0 = time.perf_counter(), time.process_time()
        load_registry()
        load_index()
        load_s, load_cpu = time.perf_counter() - t0, time.process_time() - c0
        from railtrack.identify.index import LicenseIndex

        t0, c0 = time.perf_counter(), time.process_time()
        LicenseIndex.build(load_registry())  # the cold path: no cached index
        build_s, build_cpu = time.perf_counter() - t0, time.process_time() - c0

        ours, ours_s = run_railtrack(items, clauses=False)
        ours_cpu = run_railtrack.cpu_s  # type: ignore[attr-defined]
        _, ours_clauses_s = run_railtrack(items, clauses=True)
        ours_clauses_cpu = run_railtrack.cpu_s  # type: ignore[attr-defined]
        res: dict = {
            "corpus_files": len(items),
            "strata": dict(strata),
            "machine": f"{os.cpu_count()}-core CPU (shared, under load), one core used",
            "date": time.strftime("%Y-%m-%d"),
            "railtrack": {
                "import_s": round(import_s, 3),
                "index_load_s": round(load_s, 3),
                "index_load_cpu_s": round(load_cpu, 3),
                "index_build_s": round(build_s, 3),
                "index_build_cpu_s": round(build_cpu, 3),
                "seconds": round(ours_s, 2),
                "files_per_s": round(len(items) / ours_s, 1),
                "files_per_cpu_s": round(len(items) / ours_cpu, 1),
                "files_per_s_with_clauses": round(len(items) / ours_clauses_s, 1),
                "files_per_cpu_s_with_clauses": round(len(items) / ours_clauses_cpu, 1),
            },
        }
        ok, n = accuracy(items, ours, lambda it: it["ai"])
        res["railtrack"]["ai_accuracy"] = {"correct": ok, "total": n, "share": round(ok / n, 4)}
        ok, n = accuracy(items, ours, lambda it: it["stratum"] == "negative")
        res["railtrack"]["negatives_unknown"] = {"correct": ok, "total": n}
        ok, n = accuracy(items, ours, lambda it: not it["ai"] and it["stratum"] != "negative")
        res["railtrack"]["open_source_accuracy"] = {"correct": ok, "total": n}
        cards = [it for it in items if it["stratum"] == "card"]
        res["railtrack"]["cards_with_a_license_text"] = sum(1 for it in cards if ours[it["path"]] != "unknown")

        if not args.no_scancode and scancode_bin() is not None:
            sample = stratified_sample(items, args.scancode_sample)
            _log(f"scancode: scanning {len(sample)} files with one process ...")
            sc, sc_s, sc_start = run_scancode(sample, tmp / "scancode")
            from railtrack.catalog.registry import load_registry as _lr

            known = {e.id for e in _lr() if e.scancode}
            scan_s = max(1e-9, sc_s - sc_start)
            sub_ours = {it["path"]: ours[it["path"]] for it in sample}
            ok_sc, n_sc = accuracy(sample, sc, lambda it: it["ai"])
            ok_rt, n_rt = accuracy(sample, sub_ours, lambda it: it["ai"])
            ok_sck, n_sck = accuracy(sample, sc, lambda it: it["ai"] and it["expected"] in known)
            ok_rtk, n_rtk = accuracy(sample, sub_ours, lambda it: it["ai"] and it["expected"] in known)
            ok_scn, n_scn = accuracy(sample, sc, lambda it: it["stratum"] == "negative")
            anywhere = run_scancode.anywhere  # type: ignore[attr-defined]
            ai_sample = [it for it in sample if it["ai"] and it["expected"] is not None]
            ok_any = sum(1 for it in ai_sample if it["expected"] in anywhere.get(it["path"], set()))
            sc_cards = [it for it in sample if it["stratum"] == "card"]
            agree = sum(1 for it in sc_cards if (sc.get(it["path"]) or "unknown") == ours[it["path"]])
            ours_sample_s = sum(1 for _ in sample) / res["railtrack"]["files_per_s"]
            res["scancode"] = {
                "sample_files": len(sample),
                "startup_s": round(sc_start, 2),
                "seconds": round(sc_s, 2),
                "files_per_s": round(len(sample) / scan_s, 2),
                "cpu_s": round(run_scancode.cpu_s, 2),  # type: ignore[attr-defined]
                "startup_cpu_s": round(run_scancode.startup_cpu_s, 2),  # type: ignore[attr-defined]
                "files_per_cpu_s": round(len(sample) / max(1e-9, run_scancode.cpu_s  # type: ignore[attr-defined]
                                                            - run_scancode.startup_cpu_s), 2),  # type: ignore[attr-defined]
                "ai_accuracy": {"correct": ok_sc, "total": n_sc, "share": round(ok_sc / max(1, n_sc), 4)},
                "ai_accuracy_known_keys": {"correct": ok_sck, "total": n_sck, "share": round(ok_sck / max(1, n_sck), 4)},
                "ai_expected_among_any_detection": {"correct": ok_any, "total": len(ai_sample),
                                                    "share": round(ok_any / max(1, len(ai_sample)), 4)},
                "negatives_unknown": {"correct": ok_scn, "total": n_scn},
                "cards_agreeing_with_railtrack": {"agree": agree, "total": len(sc_cards)},
                "wrong_examples": [
                    {"file": Path(it["path"]).relative_to(root).as_posix(), "expected": it["expected"],
                     "scancode": sc.get(it["path"]), "railtrack": ours[it["path"]]}
                    for it in sample if it["ai"] and sc.get(it["path"]) != it["expected"]][:15],
            }
            res["railtrack_on_sample"] = {
                "ai_accuracy": {"correct": ok_rt, "total": n_rt, "share": round(ok_rt / max(1, n_rt), 4)},
                "ai_accuracy_known_keys": {"correct": ok_rtk, "total": n_rtk,
                                           "share": round(ok_rtk / max(1, n_rtk), 4)},
                "seconds_estimated": round(ours_sample_s, 3),
            }
            res["speed_ratio"] = round(res["railtrack"]["files_per_s"] / res["scancode"]["files_per_s"], 1)
            res["speed_ratio_cpu"] = round(res["railtrack"]["files_per_cpu_s"] / res["scancode"]["files_per_cpu_s"], 1)
        else:
            _log("scancode: not run (see the module docstring to install it into .venv-scancode)")
        res["railtrack"]["wrong_examples"] = [
            {"file": Path(it["path"]).relative_to(root).as_posix(), "expected": it["expected"], "got": ours[it["path"]]}
            for it in items if it["expected"] is not None and ours[it["path"]] != it["expected"]][:15]
    finally:
        if args.corpus is None:
            shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    r = res["railtrack"]
    print(f"corpus: {res['corpus_files']} files {res['strata']}")
    print(f"machine: {res['machine']}; date {res['date']}")
    print(f"railtrack: import {r['import_s']} s, index load {r['index_load_s']} s ({r['index_load_cpu_s']} s CPU; "
          f"building it without the cache {r['index_build_s']} s, {r['index_build_cpu_s']} s CPU) (target < 1 s)")
    print(f"railtrack: {r['files_per_s']} files/s identification ({r['files_per_cpu_s']} per CPU-second), "
          f"{r['files_per_s_with_clauses']} files/s with clause extraction ({r['files_per_cpu_s_with_clauses']} per "
          f"CPU-second) (target >= 500 files/s)")
    a = r["ai_accuracy"]
    print(f"railtrack: AI-license accuracy {a['correct']}/{a['total']} = {a['share']:.2%}; negatives unknown "
          f"{r['negatives_unknown']['correct']}/{r['negatives_unknown']['total']}; open-source "
          f"{r['open_source_accuracy']['correct']}/{r['open_source_accuracy']['total']}; real cards holding a "
          f"license text: {r['cards_with_a_license_text']}")
    for w in r["wrong_examples"]:
        print(f"  railtrack wrong: {w}")
    if "scancode" in res:
        s, o = res["scancode"], res["railtrack_on_sample"]
        print(f"scancode: {s['sample_files']} files in {s['seconds']} s (startup {s['startup_s']} s): "
              f"{s['files_per_s']} files/s ({s['files_per_cpu_s']} per CPU-second)")
        print(f"on the same sample: AI-license accuracy railtrack {o['ai_accuracy']['correct']}/{o['ai_accuracy']['total']}"
              f" = {o['ai_accuracy']['share']:.2%} vs scancode {s['ai_accuracy']['correct']}/{s['ai_accuracy']['total']}"
              f" = {s['ai_accuracy']['share']:.2%}")
        print(f"  licenses ScanCode has a key for: railtrack {o['ai_accuracy_known_keys']['share']:.2%} vs scancode "
              f"{s['ai_accuracy_known_keys']['share']:.2%}; negatives unknown (scancode) "
              f"{s['negatives_unknown']['correct']}/{s['negatives_unknown']['total']}; real cards agreeing "
              f"{s['cards_agreeing_with_railtrack']['agree']}/{s['cards_agreeing_with_railtrack']['total']}")
        lenient = s["ai_expected_among_any_detection"]
        print(f"  scancode, lenient (expected license among any of its detections in the file): "
              f"{lenient['correct']}/{lenient['total']} = {lenient['share']:.2%}")
        print(f"speed ratio railtrack/scancode: {res['speed_ratio']}x wall clock, {res['speed_ratio_cpu']}x CPU time")
        for w in s["wrong_examples"][:8]:
            print(f"  scancode wrong: {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
