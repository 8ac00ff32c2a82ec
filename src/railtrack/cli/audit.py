"""``railtrack audit MODEL``: check a model, or all its descendants, against its bases' license obligations.

Exit codes: 0 when the audit ran (violations included), 1 with ``--fail-on-violation`` when
any audited model is a violation, 2 for usage or input errors (unknown model, unwritable path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import UsageError
from . import _common

_STYLE = {"violation": "bold red", "cannot-tell": "yellow", "compliant": "green"}


def _print_human(report: dict[str, Any], show: int) -> None:
    from rich.table import Table
    from rich.text import Text

    out = _common.stdout
    s = report["summary"]
    head = Text()
    head.append(f"{report['model']}", style="bold")
    head.append(f"  declared {report['base']['declared_license']}; obligations: "
                f"{', '.join(report['base']['obligations']) or 'none'}")
    out.print(head)
    t = Table(title=f"{s['derivatives']} {'descendants' if report['descendants'] else 'model'} audited")
    t.add_column("rule")
    for v in ("compliant", "cannot-tell", "violation"):
        t.add_column(v, justify="right")
    for rule, c in s["rules"].items():
        t.add_row(Text(rule), str(c["compliant"]), str(c["cannot-tell"]), str(c["violation"]))
    t.add_row(Text("models (worst rule)", style="bold"), *(str(s["verdicts"][v]) for v in ("compliant", "cannot-tell", "violation")))
    out.print(t)
    d = s["drift"]
    if d["edges"]:
        out.print(Text(f"license drift: {d['edges']} edges with both licenses known, mutation rate {d['mutation_rate']}"))
        for rel, x in d["per_relation"].items():
            dirs = ", ".join(f"{k} {n}" for k, n in x["direction"].items())
            out.print(Text(f"  {rel}: {x['edges']} edges, mutation rate {x['mutation_rate']} ({dirs})"))
    shown = 0
    for der in report["derivatives"]:
        if der["verdict"] != "violation" and report["descendants"]:
            continue
        if shown >= show:
            rest = s["verdicts"]["violation"] - shown if report["descendants"] else 0
            if rest > 0:
                out.print(Text(f"... and {rest} more violations (use --json, --csv or --html for all)", style="dim"))
            break
        shown += 1
        line = Text()
        line.append(der["verdict"], style=_STYLE[der["verdict"]])
        line.append(f"  {der['id']}  ({der['relation']}, depth {der['depth']}, declares {der['declared_license']})")
        out.print(line)
        for r in der["rules"]:
            if report["descendants"] and r["verdict"] == "compliant":
                continue
            row = Text("    ")
            row.append(r["verdict"], style=_STYLE.get(r["verdict"], ""))
            row.append(f"  {r['rule']}: {r['reason']}")
            out.print(row)


def register(app: typer.Typer) -> None:
    @app.command("audit")
    def audit_cmd(
        model: str = typer.Argument(..., help="Model id, e.g. meta-llama/Llama-2-7b-chat-hf."),
        descendants: bool = typer.Option(False, "--descendants", help="Audit every model derived from MODEL."),
        depth: Optional[int] = typer.Option(None, "--depth", min=1, help="With --descendants: stop at this depth."),
        as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON on stdout."),
        csv_path: Optional[str] = typer.Option(None, "--csv", help="Write one CSV row per model and rule to PATH ('-': stdout)."),
        html_path: Optional[Path] = typer.Option(None, "--html", help="Write a standalone HTML report to PATH."),
        show: int = typer.Option(20, "--show", min=0, help="Violations listed in the terminal summary."),
        fail_on_violation: bool = typer.Option(False, "--fail-on-violation", help="Exit 1 when any audited model is a violation."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """Audit MODEL (or its descendants) against the obligations of their bases' licenses."""
        from .._io import atomic_write
        from ..adherence.audit import audit
        from ..adherence.export import audit_csv, audit_html, audit_json
        from ..store import connect

        if as_json and csv_path == "-":
            raise UsageError("--json and --csv - both print on stdout; choose one")
        con = connect(db, read_only=True)
        con.execute("SET enable_progress_bar = false")  # nothing but the report on stdout
        try:
            report = audit(con, model, descendants=descendants, max_depth=depth)
        finally:
            con.close()
        if html_path is not None:
            atomic_write(html_path, audit_html(report))
            _common.stderr.print(f"wrote {html_path}", markup=False)
        if csv_path is not None:
            text = audit_csv(report)
            if csv_path == "-":
                import sys

                sys.stdout.write(text)
            else:
                atomic_write(csv_path, text)
                _common.stderr.print(f"wrote {csv_path}", markup=False)
        if as_json:
            if len(report["derivatives"]) > 2000:  # large families: compact JSON (indenting is the slow part)
                import sys

                sys.stdout.write(audit_json(report))
                sys.stdout.write("\n")
            else:
                _common.print_json(report)
        elif csv_path != "-":
            _print_human(report, show)
        if fail_on_violation and report["summary"]["verdicts"]["violation"]:
            raise typer.Exit(1)
