"""``railtrack provenance ...``: tell whether a model's weights were derived from a base model.

Exit codes: 0 - no suspect is ``derived`` (verdicts ``independent`` / ``inconclusive``);
1 - at least one suspect is ``derived`` (a finding); 2 - usage or input error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import _common

_VERDICT_STYLE = {"derived": "bold red", "independent": "green", "inconclusive": "yellow"}


def _options(permutations: int, units: int, proj_dim: int, alpha: float, seed: int, direct: bool,
             threads: int | None):
    from ..provenance import CompareOptions

    return CompareOptions(permutations=permutations, units=units, proj_dim=proj_dim, alpha=alpha,
                          independent_above=max(alpha, 0.05), seed=seed, direct=direct, threads=threads)


def _write_report(path: Optional[Path], report: dict) -> None:
    if path is None:
        return
    from .._io import atomic_write

    atomic_write(path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    _common.stderr.print(f"report written to {escape(str(path))}")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=_common.stderr, transient=True, disable=not _common.stderr.is_terminal)


def _layer_table(result) -> Table:
    table = Table(title="where the weights agree", title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 0))
    for col in ("layer", "attn in", "attn out", "mlp in", "mlp out", "tokens", "null", "p", "plain"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("agree", justify="left", no_wrap=True)
    for row in result.layers:
        def cell(key: str) -> str:
            v = row.groups.get(key)
            return "" if v is None else f"{v:.3f}"
        table.add_row(escape(row.layer), cell("attn_in"), cell("attn_out"), cell("mlp_in"), cell("mlp_out"),
                      cell("tokens"), f"{row.null_mean:.3f}", f"{row.p_value:.3g}",
                      "" if row.direct_cosine is None else f"{row.direct_cosine:.3f}",
                      "[red]yes[/red]" if row.agrees else "no")
    return table


def _summary(result) -> str:
    style = _VERDICT_STYLE.get(result.verdict, "")
    return (f"[{style}]{result.verdict}[/{style}]  p = {result.p_value:.4g}  statistic = {result.statistic:.4f}"
            f"  (null mean {result.null_mean:.4f}, z = {result.z:.1f})  {escape(result.reason)}")


def register(app: typer.Typer) -> None:
    sub = typer.Typer(name="provenance", no_args_is_help=True, rich_markup_mode=None,
                      help="Weight provenance: was a model derived from a base model's weights?")

    @sub.command("compare")
    def compare_cmd(
        base: Path = typer.Argument(..., help="Base model: folder or .safetensors / .gguf file."),
        suspect: Path = typer.Argument(..., help="Suspect model: folder or .safetensors / .gguf file."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
        permutations: int = typer.Option(99, "--permutations", help="Null replicates T (smallest p = 1/(T+1))."),
        units: int = typer.Option(16, "--units", help="Base units sampled per layer and group."),
        proj_dim: int = typer.Option(96, "--proj-dim", help="Random projection dimension."),
        alpha: float = typer.Option(0.01, "--alpha", help="Verdict 'derived' when p <= alpha."),
        seed: int = typer.Option(0, "--seed", help="Seed of the sampling, projection and null permutations."),
        no_direct: bool = typer.Option(False, "--no-direct", help="Skip the plain-cosine column (faster)."),
        threads: Optional[int] = typer.Option(None, "--threads", help="BLAS threads (default: 1 when the machine is busy, else all cores)."),
        output: Optional[Path] = typer.Option(None, "--output", "-o",
                                              help="Also write the JSON report to this file (evidence to keep)."),
    ) -> None:
        """Compare SUSPECT with BASE: verdict derived / independent / inconclusive, p-value, per-layer table.

        Exit 1 when the verdict is 'derived', 0 otherwise, 2 on bad input.
        """
        from ..provenance import compare

        opts = _options(permutations, units, proj_dim, alpha, seed, not no_direct, threads)
        with _progress() as bar:
            tasks: dict[str, int] = {}

            def step(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task("reading base" if stage == "base" else "comparing layers",
                                                total=total)
                bar.update(tasks[stage], completed=done)

            result = compare(base, suspect, opts, progress=step)
        _write_report(output, result.to_dict())
        if as_json:
            _common.print_json(result.to_dict())
        else:
            _common.stdout.print(_layer_table(result))
            _common.stdout.print(f"cells: matched cosine per unit group; null: mean of {result.permutations} "
                                 "residual-permutation replicates; p: exact, per layer; plain: cosine of "
                                 "same-named tensors (defeated by permutations)")
            res = result.details.get("residual_permutation") or {}
            if res.get("detected"):
                _common.stdout.print(
                    f"residual permutation detected: {res.get('moved_coordinates')} of the hidden coordinates "
                    f"moved, {res.get('sign_flips')} sign flips (estimated from the embedding, matched cosine "
                    f"{res.get('matched_cosine', 0):.3f}); the other rows score the suspect after undoing it "
                    f"(p unaligned {res.get('p_unaligned', 1):.3g}, aligned {res.get('p_aligned', 1):.3g})")
            _common.stdout.print(_summary(result))
        if result.verdict == "derived":
            raise typer.Exit(1)

    @sub.command("scan")
    def scan_cmd(
        base: Path = typer.Argument(..., help="Base model: folder or .safetensors / .gguf file."),
        dirs: List[Path] = typer.Argument(..., help="Candidate model folders/files, or folders holding them."),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON on stdout."),
        permutations: int = typer.Option(99, "--permutations", help="Null replicates T (smallest p = 1/(T+1))."),
        units: int = typer.Option(16, "--units", help="Base units sampled per layer and group."),
        proj_dim: int = typer.Option(96, "--proj-dim", help="Random projection dimension."),
        alpha: float = typer.Option(0.01, "--alpha", help="Verdict 'derived' when p <= alpha."),
        seed: int = typer.Option(0, "--seed", help="Seed of the sampling, projection and null permutations."),
        threads: Optional[int] = typer.Option(None, "--threads", help="BLAS threads (default: 1 when the machine is busy, else all cores)."),
        output: Optional[Path] = typer.Option(None, "--output", "-o",
                                              help="Also write the JSON report to this file (evidence to keep)."),
    ) -> None:
        """Compare every candidate under DIRS with BASE: one verdict each.

        Exit 1 when any candidate is 'derived', 0 otherwise, 2 on bad input.
        """
        from ..provenance import find_candidates, scan

        opts = _options(permutations, units, proj_dim, alpha, seed, False, threads)
        n = len(find_candidates(dirs))
        with _progress() as bar:
            task = bar.add_task("scanning candidates", total=n)

            def step(_name: str, done: int, _total: int) -> None:
                bar.update(task, completed=done)

            results = scan(base, dirs, opts, progress=step)
        report = {"base": str(base), "candidates": [r.to_dict() for r in results]}
        _write_report(output, report)
        if as_json:
            _common.print_json(report)
        else:
            table = Table(title=f"provenance scan against {escape(str(base))}", title_justify="left")
            for col in ("candidate", "verdict", "p", "statistic", "null mean", "z", "reason"):
                table.add_column(col)
            for r in results:
                style = _VERDICT_STYLE.get(r.verdict, "")
                table.add_row(escape(r.suspect), f"[{style}]{r.verdict}[/{style}]", f"{r.p_value:.3g}",
                              f"{r.statistic:.4f}", f"{r.null_mean:.4f}", f"{r.z:.1f}", escape(r.reason))
            _common.stdout.print(table)
        if any(r.verdict == "derived" for r in results):
            raise typer.Exit(1)

    @sub.command("inspect")
    def inspect_cmd(
        model: Path = typer.Argument(..., help="Model folder or .safetensors / .gguf file."),
        as_json: bool = typer.Option(False, "--json", help="Print the description as JSON on stdout."),
    ) -> None:
        """Show how MODEL's tensors are read and aligned: format, sizes, unit groups, unrecognised tensors."""
        from ..provenance import describe, open_checkpoint

        with open_checkpoint(model) as ck:
            info = describe(ck)
        if as_json:
            _common.print_json(info)
            return
        out = _common.stdout
        out.print(f"{escape(info['path'])}: {info['format']}, {info['parameters']:,} parameters in "
                  f"{info['tensors']} tensors ({', '.join(f'{k} x{v}' for k, v in info['dtypes'].items())})")
        out.print(f"hidden size {info['hidden_size']}, {info['layers']} layers, "
                  f"tokenizer vocabulary {info['tokenizer_vocabulary'] or 'none'}")
        table = Table(box=box.SIMPLE_HEAD)
        for col in ("group", "layers", "units per layer", "parts"):
            table.add_column(col)
        for group, g in info["groups"].items():
            table.add_row(group, str(g["layers"]), ", ".join(map(str, g["units_per_layer"])),
                          escape(", ".join(g["parts"])))
        for label, key in (("embedding", "embedding"), ("output head", "output_head")):
            if info[key]:
                table.add_row(label, "", str(info[key]["shape"][0]) + " tokens", escape(info[key]["name"]))
        out.print(table)
        if info["unaligned"]:
            out.print(f"not compared ({len(info['unaligned'])}): " + escape(", ".join(info["unaligned"][:12]))
                      + (" ..." if len(info["unaligned"]) > 12 else ""))
        for line in info["shape_mismatch"]:
            out.print(f"shape check failed: {escape(line)}")

    app.add_typer(sub, name="provenance")
