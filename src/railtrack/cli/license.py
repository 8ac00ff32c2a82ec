"""``railtrack license ...``: write behavioral-use licenses from the clause catalogue.

Commands (a contract other tools rely on): ``catalog``, ``new``, ``render``, ``diff``,
``show``, ``list``, ``schema``. Text formats go to stdout without ``-o``; ``pdf`` needs ``-o``.
``diff`` exits 1 when the two licenses differ, 0 when they are identical.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import InputError, UsageError
from . import _common

license_app = typer.Typer(
    name="license",
    help="Write behavioral-use licenses (OpenRAIL, RAIL, research-only) from the clause catalogue.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

_FORMAT_HELP = ("Output format: md, txt, html, tex, pdf, json, card, notice, badge, or all (a release kit: "
                "LICENSE, LICENSE.md/.html/.pdf/.tex, NOTICE, license.json, model card block, badge, into -o DIR).")


def _check_format(fmt: str, *, allow_all: bool = False) -> str:
    from ..licenses import FORMATS

    fmt = fmt.strip().lower()
    if fmt == "all" and allow_all:
        return fmt
    if fmt not in FORMATS:
        extra = ", or all (a release kit in a folder)" if allow_all else ""
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}{extra}")
    return fmt


def _write_kit(spec, folder: Optional[Path]) -> None:  # type: ignore[no-untyped-def]
    """``--format all``: every release file into ``folder`` (created if missing), each written atomically."""
    from .._io import atomic_write
    from ..licenses import release_kit

    if folder is None or str(folder) == "-":
        raise UsageError("--format all writes a folder of files: give it with -o DIR")
    if folder.exists() and not folder.is_dir():
        raise InputError(f"cannot write the release kit into {folder}: it is not a folder")
    files = release_kit(spec)  # render everything before touching the disk
    try:
        folder.mkdir(parents=False, exist_ok=True)
    except FileNotFoundError:
        raise InputError(f"cannot create {folder}: folder {folder.parent} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot create {folder}: {exc.strerror or exc}") from None
    for name, data in files.items():
        atomic_write(folder / name, data, mode=_file_mode())


def _emit(data: bytes, fmt: str, output: Optional[Path]) -> None:
    """Write rendered bytes to ``output`` (atomically) or, for text formats, to stdout."""
    from .._io import atomic_write

    if output is not None and str(output) != "-":
        atomic_write(output, data, mode=_file_mode())
        return
    if fmt == "pdf":
        raise UsageError("the pdf format is binary: give an output file with -o PATH")
    sys.stdout.write(data.decode("utf-8"))
    sys.stdout.flush()


def _file_mode() -> int:
    """Permissions of an ordinary new file under the current umask (license files are public)."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _load_spec(ref: str, db: Optional[Path]):  # type: ignore[no-untyped-def]
    """A manifest from a JSON file, or a license id recorded in the store."""
    import re

    from ..licenses import load_manifest

    if ref == "-":
        import json

        from ..licenses import parse_manifest

        try:
            return parse_manifest(json.loads(sys.stdin.read()))
        except json.JSONDecodeError as exc:
            raise InputError(f"standard input is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    path = Path(ref)
    if path.exists() or not re.fullmatch(r"(rt-)?[0-9a-f]{4,12}", ref.strip().lower()):
        return load_manifest(path)
    from ..licenses import store as license_store
    from ..store import connect

    with connect(db) as con:
        return license_store.get(con, ref)


def _record(spec, db: Optional[Path]) -> str:  # type: ignore[no-untyped-def]
    from ..licenses import store as license_store
    from ..store import connect

    with connect(db) as con:
        return license_store.record(con, spec)


def _interactive(defaults: dict) -> dict:
    """Ask for the manifest fields step by step (prompts on stderr, answers from stdin)."""
    from ..catalog.clauses import load_catalog
    from ..licenses.manifest import ARTIFACTS, FLAVOR_NAMES, parse_custom

    def say(text: str = "") -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def ask(prompt: str, default: Optional[str] = None, allow_empty: bool = False) -> str:
        from rich.prompt import Prompt
        from rich.text import Text

        label = Text(prompt + (f" [{default}]" if default else ""))
        while True:
            try:
                value = Prompt.ask(label, console=_common.stderr, default="", show_default=False)
            except EOFError:
                say("")
                raise UsageError("the interactive input ended before every question was answered") from None
            value = (value or "").strip() or (default or "")
            if value or allow_empty:
                return value
            say("  please give a value")

    cat = load_catalog()
    say("railtrack license new: answer each question; press Enter to accept the [default].")
    name = ask("Name of the licensed artifact (e.g. the model name)", defaults.get("name"))
    licensor = ask("Licensor (person or organisation)", defaults.get("licensor"))
    say("Flavors: " + "; ".join(f"{k} = {v}" for k, v in FLAVOR_NAMES.items()))
    while True:
        flavor = ask("Flavor (open, rail, research)", defaults.get("flavor") or "open").lower()
        if flavor in FLAVOR_NAMES:
            break
        say("  choose open, rail or research")
    while True:
        raw = ask("Artifacts, comma separated (application, model, source, data)",
                  ",".join(defaults.get("artifacts") or []) or "model")
        artifacts = [a.strip().lower() for a in raw.replace(" ", ",").split(",") if a.strip()]
        bad = [a for a in artifacts if a not in ARTIFACTS]
        if artifacts and not bad:
            break
        say(f"  unknown artifact {bad[0]!r}" if bad else "  at least one artifact is required")
    say("")
    say("Baseline restrictions (always included):")
    for c in cat.baseline():
        say(f"  {c.id}: {c.title}")
    optional = [c for c in cat.clauses if not c.baseline]
    say("Optional restrictions:")
    for i, c in enumerate(optional, 1):
        say(f"  {i:>2}. {c.id}: {c.title}")
    while True:
        raw = ask("Optional restrictions to add (numbers or ids, comma separated; Enter for none)",
                  ",".join(defaults.get("restrict") or []) or None, allow_empty=True)
        chosen: list[str] = []
        error = ""
        for token in [t.strip() for t in raw.replace(" ", ",").split(",") if t.strip()]:
            if token.isdigit() and 1 <= int(token) <= len(optional):
                chosen.append(optional[int(token) - 1].id)
            elif token in cat:
                chosen.append(token)
            else:
                error = f"  unknown restriction {token!r}"
                break
        if not error:
            break
        say(error)
    customs: list = []
    say("Custom restrictions: one per line, optionally 'domain: text'; an empty line ends the list.")
    while True:
        raw = ask(f"Custom restriction {len(customs) + 1}", allow_empty=True)
        if not raw:
            break
        try:
            customs.append(parse_custom(raw))
        except InputError as exc:
            say(f"  {exc.message}")
    commercial_default = "n" if flavor == "research" else "y"
    commercial = ask("Commercial use permitted? (y/n)", commercial_default).lower().startswith("y")
    url = ask("Project URL (optional)", defaults.get("url"), allow_empty=True) or None
    jurisdiction = ask("Governing law, e.g. 'the State of New York' (optional)", defaults.get("jurisdiction"),
                       allow_empty=True) or None
    notice = ask("Attribution notice to keep (optional)", defaults.get("notice"), allow_empty=True) or None
    return {
        "name": name, "licensor": licensor, "flavor": flavor, "artifacts": artifacts,
        "restrictions": chosen, "custom_restrictions": customs, "commercial_use": commercial,
        "url": url, "jurisdiction": jurisdiction, "notice": notice, "info": defaults.get("info"),
    }


def register(app: typer.Typer) -> None:
    @license_app.command("catalog")
    def catalog_cmd(
        domain: Optional[str] = typer.Option(None, "--domain", metavar="DOMAIN", help="Only clauses of this domain (e.g. privacy)."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON list of {id, domain, title, baseline}."),
        text: bool = typer.Option(False, "--text", help="Also print each clause's full text."),
    ) -> None:
        """List the use restrictions a license can carry (baseline ones are always included)."""
        from ..catalog.clauses import load_catalog

        cat = load_catalog()
        clauses = list(cat.clauses)
        if domain is not None:
            d = domain.strip().lower()
            if d not in cat.domains():
                raise UsageError(f"unknown domain {domain!r}; domains: {', '.join(cat.domains())}")
            clauses = cat.in_domain(d)
        if as_json:
            _common.print_json([{"id": c.id, "domain": c.domain, "title": c.title, "baseline": c.baseline}
                                for c in clauses])
            return
        from rich.table import Table

        table = Table(title=f"clause catalogue {cat.version}: {len(clauses)} restrictions", show_lines=False)
        table.add_column("id", no_wrap=True)
        table.add_column("domain")
        table.add_column("title")
        table.add_column("baseline")
        if text:
            table.add_column("text")
        for c in clauses:
            row = [c.id, c.domain, c.title, "yes" if c.baseline else ""]
            if text:
                row.append(c.text)
            table.add_row(*row)
        _common.stdout.print(table)

    @license_app.command("new")
    def new_cmd(
        name: Optional[str] = typer.Option(None, "--name", metavar="NAME", help="Name of the licensed artifact (used in the title)."),
        licensor: Optional[str] = typer.Option(None, "--licensor", metavar="WHO", help="Who grants the license."),
        flavor: Optional[str] = typer.Option(None, "--flavor", metavar="open|rail|research", help="open (OpenRAIL), rail (RAIL) or research."),
        artifact: Optional[List[str]] = typer.Option(None, "--artifact", metavar="KIND",
                                                     help="application, model, source or data (repeatable)."),
        restrict: Optional[List[str]] = typer.Option(None, "--restrict", metavar="ID", help="Catalogue clause id (repeatable)."),
        custom: Optional[List[str]] = typer.Option(None, "--custom", metavar="TEXT",
                                                   help="Custom restriction text, optionally 'domain: text' "
                                                        "(repeatable)."),
        commercial: Optional[bool] = typer.Option(None, "--commercial/--no-commercial",
                                                  help="Commercial use permitted (default: yes, except research)."),
        notice: Optional[str] = typer.Option(None, "--notice", metavar="TEXT", help="Attribution notice redistributors must keep."),
        jurisdiction: Optional[str] = typer.Option(None, "--jurisdiction", metavar="TEXT", help="Governing law."),
        url: Optional[str] = typer.Option(None, "--url", metavar="URL", help="Project URL (also encoded in the QR code)."),
        info: Optional[str] = typer.Option(None, "--info", metavar="TEXT", help="Additional information shown after the terms."),
        fmt: str = typer.Option("md", "--format", "-f", metavar="FORMAT", help=_FORMAT_HELP),
        output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="PATH", help="Output file (default: stdout)."),
        interactive: bool = typer.Option(False, "--interactive", "-i", help="Ask for each field step by step."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """Write a new license, record it in the store, and print or save it."""
        from ..licenses import LicenseSpec, license_id, render, title  # noqa: F401
        from ..licenses.manifest import parse_custom, validation_message
        from pydantic import ValidationError

        fmt = _check_format(fmt, allow_all=True)
        if fmt == "pdf" and output is None:
            raise UsageError("the pdf format is binary: give an output file with -o PATH")
        if fmt == "all" and output is None:
            raise UsageError("--format all writes a folder of files: give it with -o DIR")
        if interactive:
            fields = _interactive({"name": name, "licensor": licensor, "flavor": flavor, "artifacts": artifact,
                                   "restrict": restrict, "url": url, "jurisdiction": jurisdiction,
                                   "notice": notice, "info": info})
            if commercial is not None:
                fields["commercial_use"] = commercial
        else:
            missing = [opt for opt, v in (("--name", name), ("--licensor", licensor), ("--flavor", flavor))
                       if v is None]
            if missing:
                raise UsageError(f"missing option {missing[0]} (or use --interactive)")
            if not artifact:
                raise UsageError("give at least one --artifact (application, model, source or data)")
            fields = {
                "name": name, "licensor": licensor, "flavor": (flavor or "").strip().lower(),
                "artifacts": [a.strip().lower() for a in artifact],
                "restrictions": [r.strip() for r in (restrict or [])],
                "custom_restrictions": [parse_custom(c) for c in (custom or [])],
                "commercial_use": commercial, "notice": notice, "jurisdiction": jurisdiction, "url": url,
                "info": info,
            }
        try:
            spec = LicenseSpec(**fields)
        except ValidationError as exc:
            raise InputError(validation_message(exc)) from None
        if fmt == "all":
            _write_kit(spec, output)
        else:
            _emit(render(spec, fmt), fmt, output)
        lid = _record(spec, db)
        where = f" -> {output}" if output is not None else ""
        _common.stderr.print(f"{lid} {title(spec)}{where}", markup=False)
        assert lid == license_id(spec)

    @license_app.command("render")
    def render_cmd(
        manifest: str = typer.Argument(..., help="Manifest JSON file (as written by --format json), - for standard "
                                                 "input, or a recorded license id."),
        fmt: str = typer.Option("md", "--format", "-f", metavar="FORMAT", help=_FORMAT_HELP),
        output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="PATH", help="Output file (default: stdout)."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """Render a manifest again: the same bytes as when the license was first made."""
        from ..licenses import render

        fmt = _check_format(fmt, allow_all=True)
        if fmt == "pdf" and output is None:
            raise UsageError("the pdf format is binary: give an output file with -o PATH")
        spec = _load_spec(manifest, db)
        if fmt == "all":
            _write_kit(spec, output)
        else:
            _emit(render(spec, fmt), fmt, output)

    @license_app.command("diff")
    def diff_cmd(
        a: str = typer.Argument(..., help="First manifest JSON file or recorded license id."),
        b: str = typer.Argument(..., help="Second manifest JSON file or recorded license id."),
        as_json: bool = typer.Option(False, "--json", help="Print the differences as JSON."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """Clause-level differences between two licenses (exit 1 when they differ)."""
        from ..licenses import diff_specs

        result = diff_specs(_load_spec(a, db), _load_spec(b, db))
        if as_json:
            _common.print_json(result.to_dict())
        else:
            for line in result.lines():
                _common.stdout.print(line, markup=False, highlight=False)
        if not result.identical:
            raise typer.Exit(1)

    @license_app.command("show")
    def show_cmd(
        license_ref: str = typer.Argument(..., metavar="ID", help="License id (rt-xxxxxxxxxxxx) from the store."),
        fmt: Optional[str] = typer.Option(None, "--format", "-f", metavar="FORMAT", help="Render in this format instead of a summary."),
        output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="PATH", help="Output file for --format."),
        as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """Show a recorded license: summary, manifest (--json) or any format (--format)."""
        from ..catalog.clauses import load_catalog
        from ..licenses import license_id, render, spdx_id, title
        from ..licenses import store as license_store
        from ..store import connect

        with connect(db) as con:
            spec = license_store.get(con, license_ref)
        if fmt is not None:
            fmt = _check_format(fmt)
            _emit(render(spec, fmt), fmt, output)
            return
        if as_json:
            sys.stdout.write(render(spec, "json").decode("utf-8"))
            return
        cat = load_catalog()
        out = _common.stdout
        out.print(f"{license_id(spec)}  {title(spec)}", markup=False)
        out.print(f"licensor: {spec.licensor}", markup=False)
        out.print(f"flavor: {spec.flavor}; artifacts: {', '.join(spec.artifacts)}; commercial use: "
                  f"{'yes' if spec.commercial_use else 'no'}", markup=False)
        out.print(f"spdx: {spdx_id(spec)}; template {spec.template_version}, catalogue {spec.catalog_version}",
                  markup=False)
        out.print(f"restrictions ({len(spec.restrictions)} catalogue, {len(spec.custom_restrictions)} custom):",
                  markup=False)
        for rid in spec.restrictions:
            c = cat.get(rid)
            out.print(f"  {rid}{' (baseline)' if c.baseline else ''}: {c.title}", markup=False)
        for c in spec.custom_restrictions:
            out.print(f"  custom [{c.domain}]: {c.text}", markup=False)

    @license_app.command("list")
    def list_cmd(
        limit: int = typer.Option(50, "--limit", min=1, help="At most this many, newest first."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """List the licenses recorded in the store."""
        from ..licenses import store as license_store
        from ..store import connect

        with connect(db) as con:
            rows = license_store.list_licenses(con, limit=limit)
        if as_json:
            _common.print_json(rows)
            return
        if not rows:
            _common.stderr.print("no licenses recorded yet (railtrack license new ...)", markup=False)
        for r in rows:
            _common.stdout.print(f"{r['license_id']}  {r['title']}  ({r['licensor']}; {len(r['restrictions'])} "
                                 f"restrictions + {r['custom_count']} custom; {r['created_at']})", markup=False)

    @license_app.command("schema")
    def schema_cmd() -> None:
        """Print the JSON Schema of the license manifest."""
        from ..licenses import json_schema

        _common.print_json(json_schema())

    app.add_typer(license_app, name="license")
