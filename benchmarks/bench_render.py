"""Render 1,000 different licenses in every format on one CPU core; print licenses per second per format.

Targets (issue #2): at least 200 Markdown licenses/s and 20 PDF licenses/s on one core.

    .venv/bin/python benchmarks/bench_render.py            # 1,000 licenses, every format
    .venv/bin/python benchmarks/bench_render.py -n 200 --formats md,pdf --json

The licenses differ in name, licensor, flavor, artifacts, restrictions (catalogue and custom),
notice and URL. One-time set-up (imports, the first render of each format, which parses
templates and cuts down the PDF font) is timed separately as "first call" and not counted
in the rate. Both the wall-clock rate (the one checked against the targets) and the rate per
second of CPU time (what one core delivers when the machine is shared) are printed.
``--check`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from datetime import datetime, timezone

TARGETS = {"md": 200.0, "pdf": 20.0}


def make_specs(n: int, seed: int = 2):
    from railtrack.catalog.clauses import load_catalog
    from railtrack.licenses import ARTIFACTS, LicenseSpec

    rnd = random.Random(seed)
    optional = [c.id for c in load_catalog().clauses if not c.baseline]
    domains = ["general", "privacy", "health", "research", "aviation"]
    specs = []
    for i in range(n):
        customs = [{"text": f"To operate system {i}-{k} without a human able to stop it.",
                    "domain": rnd.choice(domains)} for k in range(rnd.randint(0, 2))]
        specs.append(LicenseSpec(
            name=f"Model {i} {rnd.choice(['Vision', 'Chat', 'Coder', 'Diffusion'])}",
            licensor=f"Lab {rnd.randint(1, 500)} <research> & Co",
            flavor=rnd.choice(["open", "rail", "research"]),
            artifacts=rnd.sample(list(ARTIFACTS), rnd.randint(1, 4)),
            restrictions=rnd.sample(optional, rnd.randint(0, len(optional))),
            custom_restrictions=customs,
            notice=f"Copyright 2025 Lab {i}." if rnd.random() < 0.5 else None,
            url=f"https://example.org/models/{i}" if rnd.random() < 0.5 else None,
        ))
    return specs


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="number of different licenses (default 1000)")
    parser.add_argument("--formats", default="", help="comma-separated formats (default: all)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    pinned = pin_one_core()
    from railtrack.licenses import FORMATS, license_id, render

    formats = [f for f in args.formats.split(",") if f] or list(FORMATS)
    t0 = time.perf_counter()
    specs = make_specs(args.n)
    build_s = time.perf_counter() - t0
    assert len({license_id(s) for s in specs}) == len(specs), "licenses are not all different"

    results = []
    for fmt in formats:
        t = time.perf_counter()
        render(specs[0], fmt)  # first call: templates, fonts
        first_ms = (time.perf_counter() - t) * 1000
        total_bytes = 0
        t = time.perf_counter()
        c = time.process_time()
        for spec in specs:
            total_bytes += len(render(spec, fmt))
        elapsed = time.perf_counter() - t
        cpu = time.process_time() - c
        rate = len(specs) / elapsed
        cpu_rate = len(specs) / cpu if cpu > 0 else float("inf")
        target = TARGETS.get(fmt)
        results.append({
            "format": fmt, "licenses": len(specs), "seconds": round(elapsed, 3), "per_second": round(rate, 1),
            "cpu_seconds": round(cpu, 3), "per_cpu_second": round(cpu_rate, 1),
            "ms_per_license": round(1000 * elapsed / len(specs), 2), "first_call_ms": round(first_ms, 1),
            "mean_bytes": int(total_bytes / len(specs)), "target_per_second": target,
            "meets_target": None if target is None else rate >= target,
        })
        if not args.json:
            print(f"{fmt:>7}: {rate:9.1f} licenses/s wall, {cpu_rate:9.1f}/s of CPU time  "
                  f"({1000 * elapsed / len(specs):6.2f} ms each, first call {first_ms:7.1f} ms, "
                  f"mean {int(total_bytes / len(specs)):>6} bytes)"
                  + ("" if target is None else f"  target >= {target:g}/s (wall): {'met' if rate >= target else 'MISSED'}"),
                  flush=True)
    info = {
        "benchmark": "bench_render", "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "core": pinned, "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "manifests_built_s": round(build_s, 3), "results": results,
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(f"({args.n} different licenses, {pinned}, load average {info['load_average']}, {info['date']})")
    missed = [r for r in results if r["meets_target"] is False]
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
