#!/usr/bin/env python3
"""Load benchmark of the web app: concurrent clients creating and downloading licenses.

Starts ``railtrack serve`` in its own process on a free loopback port, on a fresh store,
with the rate limiter off (``--rate-limit 0``: the limit is per client address and every
simulated client here shares 127.0.0.1). Then ``--clients`` simulated users run for
``--duration`` seconds. Each user repeats one session:

1. ``POST /api/licenses`` with a new random manifest (flavor, artifacts, optional
   restrictions, sometimes a custom restriction): the server validates, records it in the
   DuckDB store and renders the Markdown;
2. ``GET /api/licenses/{id}?format=md`` (the download of the text just created);
3. ``GET /api/licenses/{id}?format=F`` for one more format, cycling through all nine
   (md, txt, html, tex, pdf, json, card, notice, badge);
4. a think time drawn uniformly from ``[--think-min, --think-max]`` seconds (a person
   reading the page; ``--think-max 0`` makes it a closed loop that saturates the server).

By default all users send their first request at the same instant: a burst of 50 creates
and then 100 downloads that a 2-core server answers in a few hundred milliseconds, which
alone can decide the p99. ``--ramp-up S`` spreads the users' first sessions uniformly over
the first ``S`` seconds (inside the measured time), as real arrivals are.

Latency is measured per request, from send to the last byte received. Printed: requests,
throughput, errors (non-2xx or transport errors), p50 / p90 / p99 / max per request kind
and overall, and the server's CPU time (its render worker processes included) and peak memory. Target (issue #5): p99 under
100 ms and zero errors with 50 clients for 30 s on the 2-core development machine.

Usage::

    .venv/bin/python benchmarks/bench_web_load.py [--clients 50] [--duration 30] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

FORMATS = ["md", "txt", "html", "tex", "pdf", "json", "card", "notice", "badge"]
TARGET_P99_MS = 100.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def catalogue() -> tuple[list[str], list[str]]:
    from railtrack.catalog.clauses import load_catalog

    cat = load_catalog()
    return [c.id for c in cat if not c.baseline], cat.domains()


def random_manifest(rng: random.Random, optional: list[str], domains: list[str], n: int) -> dict:
    artifacts = rng.sample(["application", "model", "source", "data"], rng.randint(1, 4))
    manifest = {
        "name": f"Model-{n}-{rng.randrange(10**9)}",
        "licensor": rng.choice(["Acme Labs", "Kestrel & Sons <AI>", "Université de Test", "O'Neil_Research {x}"]),
        "flavor": rng.choice(["open", "open", "rail", "research"]),
        "artifacts": artifacts,
        "restrictions": rng.sample(optional, rng.randint(0, 6)),
    }
    if rng.random() < 0.3:
        manifest["custom_restrictions"] = [
            {"text": f"To operate unattended trading system #{rng.randrange(1000)} with real funds.",
             "domain": rng.choice(domains)}
        ]
    if rng.random() < 0.3:
        manifest["jurisdiction"] = "the State of New York"
    return manifest


async def user(client: httpx.AsyncClient, uid: int, stop_at: float, args, optional, domains, results, errors):
    rng = random.Random(args.seed * 1000 + uid)
    n = 0
    fmt_index = uid % len(FORMATS)
    if args.ramp_up > 0:  # users arrive spread over the ramp-up, not all in the same millisecond
        await asyncio.sleep(rng.uniform(0, args.ramp_up))
    while time.perf_counter() < stop_at:
        n += 1
        manifest = random_manifest(rng, optional, domains, uid * 1_000_000 + n)
        t0 = time.perf_counter()
        try:
            resp = await client.post("/api/licenses", json=manifest)
            dt = time.perf_counter() - t0
            results.setdefault("create", []).append(dt)
            if resp.status_code not in (200, 201):
                errors.append(f"create {resp.status_code}: {resp.text[:200]}")
                continue
            lid = resp.json()["id"]
        except httpx.HTTPError as exc:
            errors.append(f"create: {type(exc).__name__}: {exc}")
            continue
        fmt = FORMATS[fmt_index % len(FORMATS)]
        fmt_index += 1
        for kind, fmt_ in (("download md", "md"), (f"download {fmt}", fmt)):
            t0 = time.perf_counter()
            try:
                resp = await client.get(f"/api/licenses/{lid}", params={"format": fmt_})
                body = resp.content
                dt = time.perf_counter() - t0
                results.setdefault(kind, []).append(dt)
                if resp.status_code != 200 or not body:
                    errors.append(f"{kind} {resp.status_code}")
            except httpx.HTTPError as exc:
                errors.append(f"{kind}: {type(exc).__name__}: {exc}")
        if args.think_max > 0:
            await asyncio.sleep(rng.uniform(args.think_min, args.think_max))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(q / 100.0 * len(values) + 0.5)) - 1))
    return values[k] * 1000.0


def summarize(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": round(pct(values, 50), 2),
        "p90_ms": round(pct(values, 90), 2),
        "p99_ms": round(pct(values, 99), 2),
        "max_ms": round(max(values) * 1000.0, 2) if values else None,
        "mean_ms": round(statistics.fmean(values) * 1000.0, 2) if values else None,
    }


async def run_load(base: str, args) -> tuple[dict, list[str], float]:
    optional, domains = catalogue()
    results: dict[str, list[float]] = {}
    errors: list[str] = []
    limits = httpx.Limits(max_connections=args.clients + 10, max_keepalive_connections=args.clients + 10)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        # warm-up: one session per format, not measured (fonts, templates, first PDF)
        warm_manifest = random_manifest(random.Random(-1), optional, domains, -1)
        r = await client.post("/api/licenses", json=warm_manifest)
        r.raise_for_status()
        for fmt in FORMATS:
            (await client.get(f"/api/licenses/{r.json()['id']}", params={"format": fmt})).raise_for_status()
        start = time.perf_counter()
        stop_at = start + args.duration
        await asyncio.gather(*(
            user(client, uid, stop_at, args, optional, domains, results, errors) for uid in range(args.clients)
        ))
        elapsed = time.perf_counter() - start
    return results, errors, elapsed


def start_server(db: Path, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, RAILTRACK_DB=str(db))
    proc = subprocess.Popen(
        [sys.executable, "-m", "railtrack", "serve", "--db", str(db), "--port", str(port), "--rate-limit", "0",
         "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"), text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/catalog", timeout=1.0).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start within 60 s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--think-min", type=float, default=0.25, help="seconds (default 0.25)")
    ap.add_argument("--think-max", type=float, default=0.75, help="seconds (default 0.75; 0 = closed loop)")
    ap.add_argument("--ramp-up", type=float, default=0.0,
                    help="seconds over which the users' first sessions are spread (default 0: all start at once)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--url", help="use an already running server instead of starting one")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)

    proc = None
    log = None
    server_log = ""
    tmp = tempfile.TemporaryDirectory(prefix="rt-bench-web-")
    try:
        if args.url:
            base = args.url.rstrip("/")
        else:
            port = free_port()
            log = Path(tmp.name) / "server.log"
            proc = start_server(Path(tmp.name) / "bench.duckdb", port, log)
            base = f"http://127.0.0.1:{port}"
        ps = psutil.Process(proc.pid) if proc else None

        def server_cpu() -> float:  # the server process and its render worker processes
            total = sum(ps.cpu_times()[:2])
            for child in ps.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += sum(child.cpu_times()[:2])
            return total

        cpu0 = server_cpu() if ps else 0.0
        peak_rss = [0]

        async def sample_rss():
            while True:
                if ps:
                    peak_rss[0] = max(peak_rss[0], ps.memory_info().rss)
                await asyncio.sleep(0.5)

        async def main_async():
            sampler = asyncio.create_task(sample_rss())
            try:
                return await run_load(base, args)
            finally:
                sampler.cancel()

        client_cpu0 = time.process_time()
        results, errors, elapsed = asyncio.run(main_async())
        client_cpu = time.process_time() - client_cpu0
        cpu = (server_cpu() - cpu0) if ps else None
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if log is not None and log.exists():
            server_log = log.read_text(errors="replace")
        tmp.cleanup()

    everything = [v for vals in results.values() for v in vals]
    overall = summarize(everything)
    report = {
        "clients": args.clients,
        "duration_s": round(elapsed, 1),
        "think_s": [args.think_min, args.think_max],
        "requests": len(everything),
        "throughput_rps": round(len(everything) / elapsed, 1),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "overall": overall,
        "by_kind": {k: summarize(v) for k, v in sorted(results.items())},
        "server_cpu_s": round(cpu, 1) if cpu is not None else None,
        "server_cpu_ms_per_request": round(1000 * cpu / len(everything), 2) if cpu and everything else None,
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "client_cpu_s": round(client_cpu, 1),
        "server_peak_rss_mb": round(peak_rss[0] / 2**20, 1) if peak_rss[0] else None,
        "cpus": os.cpu_count(),
        "target": f"p99 < {TARGET_P99_MS:.0f} ms, 0 errors",
        "met": overall["p99_ms"] < TARGET_P99_MS and not errors,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"web load: {args.clients} clients, {elapsed:.1f} s, think time {args.think_min}-{args.think_max} s, "
              f"{report['requests']} requests ({report['throughput_rps']} req/s), {len(errors)} errors")
        print(f"{'kind':<18} {'n':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for kind, s in [("ALL", overall), *report["by_kind"].items()]:
            print(f"{kind:<18} {s['n']:>7} {s['p50_ms']:>8.1f} {s['p90_ms']:>8.1f} {s['p99_ms']:>8.1f} {s['max_ms']:>8.1f}")
        if report["server_cpu_s"] is not None:
            print(f"server: {report['server_cpu_s']} s CPU ({report['server_cpu_ms_per_request']} ms per request), "
                  f"peak RSS {report['server_peak_rss_mb']} MB; machine: {report['cpus']} CPUs, "
                  f"load average {report['load_average_1m_after']} after the run; "
                  f"the load generator itself used {report['client_cpu_s']} s CPU")
        for e in report["error_examples"]:
            print(f"error: {e}")
        if errors and server_log:
            print("server log (tail):\n" + server_log[-3000:])
        print(f"target {report['target']}: {'met' if report['met'] else 'NOT met'}")
    return 0 if report["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
