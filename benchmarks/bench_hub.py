"""Benchmark: import of a 2M-row synthetic hub-stats snapshot, peak memory, adoption report time.

    python benchmarks/bench_hub.py [--rows 2000000] [--workdir /tmp/railtrack-bench-hub] [--keep]

Targets (2-core machine): import <= 60 s, peak memory (RSS of the importing process,
``ru_maxrss``) <= 4 GB, full adoption report <= 3 s. The import and the reports each run
in a fresh child process so that their time and memory are measured alone. Prints one
line per measure and a JSON summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

IMPORT_CHILD = r"""
import sys, time, json
from railtrack.store import connect
from railtrack.hub import import_paths
con = connect(sys.argv[1])
t = time.perf_counter()
res = import_paths(con, [sys.argv[2]], fmt="hub-stats", snapshot_date="2025-06-30")
secs = time.perf_counter() - t
con.close()
print(json.dumps({"seconds": secs, "rows_imported": res.rows_imported, "rows_rejected": res.rows_rejected}))
"""

REPORT_CHILD = r"""
import sys, time, json
from railtrack.store import connect
from railtrack.reports import adoption, licenses_report, clauses_report
con = connect(sys.argv[1], read_only=True)
out = {}
for name, fn in (("adoption", adoption), ("licenses", licenses_report), ("clauses", clauses_report)):
    t = time.perf_counter()
    data = fn(con)
    out[name] = time.perf_counter() - t
out["total_models"] = data and adoption(con)["total_models"]
print(json.dumps(out))
"""


def run_child(code: str, *args: str) -> tuple[dict, float, float, float]:
    """(its JSON output, wall seconds, peak RSS in MB, CPU seconds) of a child Python process."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu0 = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"child failed with exit code {proc.returncode}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far; children run one at a time here
    return (json.loads(proc.stdout.strip().splitlines()[-1]), wall, max(usage.ru_maxrss, before) / 1024.0,
            usage.ru_utime + usage.ru_stime - cpu0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/railtrack-bench-hub"))
    ap.add_argument("--keep", action="store_true", help="Keep the generated parquet for the next run.")
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    parquet = args.workdir / f"hub-stats-{args.rows}.parquet"
    if not parquet.exists():
        t = time.perf_counter()
        subprocess.run([sys.executable, str(HERE / "gen_hub_stats.py"), str(parquet), "--rows", str(args.rows)],
                       check=True)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    db = args.workdir / "bench.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        if p.exists():
            p.unlink()
    load = os.getloadavg()
    imp, imp_wall, imp_rss, imp_cpu = run_child(IMPORT_CHILD, str(db), str(parquet))
    rep, rep_wall, _, _ = run_child(REPORT_CHILD, str(db))
    t = time.perf_counter()
    cli = subprocess.run([sys.executable, "-m", "railtrack", "report", "adoption", "--json", "--db", str(db)],
                         capture_output=True, text=True)
    cli_wall = time.perf_counter() - t
    if cli.returncode != 0:
        sys.stderr.write(cli.stderr)
        raise SystemExit("railtrack report adoption failed")
    summary = {
        "rows": args.rows,
        "import_seconds": round(imp["seconds"], 2),
        "import_process_seconds": round(imp_wall, 2),
        "import_peak_rss_mb": round(imp_rss, 1),
        "import_process_cpu_seconds": round(imp_cpu, 1),
        "rows_imported": imp["rows_imported"],
        "rows_rejected": imp["rows_rejected"],
        "adoption_report_seconds": round(rep["adoption"], 3),
        "licenses_report_seconds": round(rep["licenses"], 3),
        "clauses_report_seconds": round(rep["clauses"], 3),
        "cli_report_adoption_seconds": round(cli_wall, 2),
        "store_mb": round(db.stat().st_size / 1e6, 1),
        "load_average_at_start": [round(x, 2) for x in load],
        "cpus": os.cpu_count(),
    }
    print(f"import {args.rows:,} rows: {summary['import_seconds']} s (target <= 60 s); "
          f"peak RSS {summary['import_peak_rss_mb']:.0f} MB (target <= 4096 MB); "
          f"CPU time of the import process {summary['import_process_cpu_seconds']} s "
          f"(load average at start {load[0]:.1f} on {os.cpu_count()} CPUs)", file=sys.stderr)
    print(f"adoption report: {summary['adoption_report_seconds']} s (target <= 3 s); "
          f"`railtrack report adoption --json` end to end: {summary['cli_report_adoption_seconds']} s", file=sys.stderr)
    print(json.dumps(summary, indent=2))
    if not args.keep:
        parquet.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
