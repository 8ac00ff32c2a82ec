"""``railtrack license ...``: the CLI contract, bad input, interactive mode, round trip in a new process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from railtrack.catalog.clauses import load_catalog
from railtrack.licenses import FORMATS, json_schema, license_id, load_manifest, render

from conftest import run_cli

BASE = ["license", "new", "--name", "Acme", "--licensor", "Acme Labs", "--flavor", "open", "--artifact", "model"]


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _one_error_line(result) -> None:
    assert result.code == 2, result
    assert result.err.startswith("railtrack: error: "), result
    assert result.err.count("\n") == 1, result
    assert result.out == ""


def test_catalog_json_contract(cli) -> None:
    r = cli("license", "catalog", "--json")
    assert r.code == 0
    rows = json.loads(r.out)
    assert len(rows) == len(load_catalog().clauses) >= 30
    assert all(set(row) == {"id", "domain", "title", "baseline"} for row in rows)
    assert sum(row["baseline"] for row in rows) == 10
    r = cli("license", "catalog", "--domain", "military", "--json")
    assert {row["domain"] for row in json.loads(r.out)} == {"military"}
    table = cli("license", "catalog")
    assert table.code == 0 and "military.military-use" in table.out
    _one_error_line(cli("license", "catalog", "--domain", "nope"))


def test_new_prints_records_and_shows(cli, tmp_path) -> None:
    db = tmp_path / "s.duckdb"
    r = cli(*BASE, "--restrict", "military.military-use", "--custom", "privacy: No scraping.", "--db", db)
    assert r.code == 0, r
    assert r.out.startswith("# Acme OpenRAIL-M\n")
    lid = r.err.split()[0]
    assert lid.startswith("rt-") and "Acme OpenRAIL-M" in r.err
    shown = cli("license", "show", lid, "--db", db)
    assert shown.code == 0 and "military.military-use: Military use" in shown.out
    assert "custom [privacy]: No scraping." in shown.out
    again = cli("license", "show", lid, "--format", "md", "--db", db)
    assert again.out == r.out  # re-rendered from the store, byte-identical
    as_json = json.loads(cli("license", "show", lid, "--json", "--db", db).out)
    assert as_json["license_id"] == lid
    listed = json.loads(cli("license", "list", "--json", "--db", db).out)
    assert [row["license_id"] for row in listed] == [lid]
    _one_error_line(cli("license", "show", "rt-000000000000", "--db", db))


def test_new_uses_railtrack_db_env(cli, tmp_path, monkeypatch) -> None:
    db = tmp_path / "env.duckdb"
    monkeypatch.setenv("RAILTRACK_DB", str(db))
    r = cli(*BASE, "-f", "json", "-o", tmp_path / "m.json")
    assert r.code == 0
    assert db.exists()
    from railtrack.store import connect

    con = connect(db)
    assert con.execute("SELECT license_id FROM generated_licenses").fetchone()[0] == json.loads(
        (tmp_path / "m.json").read_text())["license_id"]
    con.close()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--restrict", "military.nope"], "unknown clause id 'military.nope'"),
        (["--custom", ""], "custom restriction text is empty"),
        (["--custom", "   "], "custom restriction text is empty"),
        (["--custom", "x" * 2001], "the limit is 2000"),
        (["--format", "docx"], "unknown format 'docx'"),
        (["--url", "ftp://x"], "url must be an http"),
    ],
)
def test_bad_input_one_line_exit_2_no_file(cli, tmp_path, extra, message) -> None:
    out = tmp_path / "out" / "LICENSE.md"
    out.parent.mkdir()
    r = cli(*BASE, *extra, "-o", out)
    _one_error_line(r)
    assert message in r.err
    assert _listing(out.parent) == []


def test_no_artifact(cli, tmp_path) -> None:
    r = cli("license", "new", "--name", "A", "--licensor", "B", "--flavor", "open", "-o", tmp_path / "x.md")
    _one_error_line(r)
    assert "at least one --artifact" in r.err
    assert _listing(tmp_path) == []


def test_bad_flavor_and_artifact(cli, tmp_path) -> None:
    r = cli("license", "new", "--name", "A", "--licensor", "B", "--flavor", "gpl", "--artifact", "model")
    _one_error_line(r)
    assert "flavor" in r.err
    r = cli("license", "new", "--name", "A", "--licensor", "B", "--flavor", "open", "--artifact", "weights")
    _one_error_line(r)
    assert "artifacts" in r.err


def test_unwritable_output_paths(cli, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for target in (tmp_path / "missing" / "LICENSE.md", blocker / "LICENSE.md", tmp_path):
        r = cli(*BASE, "-o", target)
        _one_error_line(r)
        assert "cannot write" in r.err
    assert _listing(tmp_path) == ["a-file"]
    assert blocker.read_text() == "x"
    from railtrack.store import connect

    con = connect()  # nothing recorded when the file could not be written
    assert con.execute("SELECT count(*) FROM generated_licenses").fetchone()[0] == 0
    con.close()


def test_pdf_requires_output(cli, tmp_path) -> None:
    r = cli(*BASE, "--format", "pdf")
    _one_error_line(r)
    assert "-o PATH" in r.err
    r = cli(*BASE, "--format", "pdf", "-o", tmp_path / "l.pdf")
    assert r.code == 0 and (tmp_path / "l.pdf").read_bytes().startswith(b"%PDF-")
    assert oct((tmp_path / "l.pdf").stat().st_mode & 0o777) != "0o600"


def test_render_diff_and_schema(cli, tmp_path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert cli(*BASE, "--restrict", "military.military-use", "-f", "json", "-o", a).code == 0
    assert cli("license", "new", "--name", "Acme", "--licensor", "Acme Labs", "--flavor", "research",
               "--artifact", "model", "--restrict", "weapons.mass-casualty", "-f", "json", "-o", b).code == 0
    r = cli("license", "diff", str(a), str(b))
    assert r.code == 1
    assert "- military.military-use: Military use" in r.out
    assert "+ weapons.mass-casualty" in r.out
    assert "~ flavor: open -> research" in r.out
    j = cli("license", "diff", str(a), str(b), "--json")
    assert j.code == 1 and json.loads(j.out)["removed"] == ["military.military-use"]
    same = cli("license", "diff", str(a), str(a))
    assert same.code == 0 and "identical" in same.out
    # diff also takes recorded ids
    lid = json.loads(a.read_text())["license_id"]
    assert cli("license", "diff", lid, str(a)).code == 0
    # render: to stdout and to a file
    r = cli("license", "render", str(a), "--format", "txt")
    assert r.code == 0 and r.out.startswith("Acme OpenRAIL-M\n")
    _one_error_line(cli("license", "render", str(tmp_path / "nope.json")))
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "A", "licensor": "B", "flavor": "open", "artifacts": []}')
    r = cli("license", "render", str(broken))
    _one_error_line(r)
    assert "artifacts" in r.err
    broken.write_text("{not json")
    _one_error_line(cli("license", "render", str(broken)))
    schema = cli("license", "schema")
    assert schema.code == 0 and json.loads(schema.out) == json_schema()


def test_interactive_mode_from_stdin(tmp_path) -> None:
    out = tmp_path / "LICENSE.md"
    cat = load_catalog()
    optional = [c.id for c in cat.clauses if not c.baseline]
    answers = "\n".join([
        "Tiny <Model>",          # name
        "Tiny & Co",             # licensor
        "rial",                  # flavor: invalid, asked again
        "research",              # flavor
        "model, weights",        # artifacts: invalid, asked again
        "model,source",          # artifacts
        "1, military.espionage, nope",  # restrictions: invalid, asked again
        "1, military.espionage",         # restrictions
        "privacy: Do not scrape forums.",
        "",                      # end of custom restrictions
        "n",                     # commercial
        "https://example.org/tiny",
        "",                      # jurisdiction
        "",                      # notice
    ]) + "\n"
    proc = run_cli("license", "new", "--interactive", "-o", str(out), input=answers)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    text = out.read_text()
    assert text.startswith("# Tiny &lt;Model&gt; RESEARCH-ONLY RAIL-MS\n")
    assert cat.get(optional[0]).text in text
    assert cat.get("military.espionage").text in text
    assert "Do not scrape forums." in text
    assert "Commercial use: not permitted" in text
    assert "unknown restriction 'nope'" in proc.stderr
    assert "unknown artifact 'weights'" in proc.stderr


def test_interactive_end_of_input_aborts(tmp_path) -> None:
    proc = run_cli("license", "new", "--interactive", "-o", str(tmp_path / "x.md"), input="Only a name\n")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("railtrack: error: the interactive input ended")
    assert not (tmp_path / "x.md").exists()


def test_round_trip_byte_identical_in_new_processes(cli, tmp_path) -> None:
    """Manifest -> every format now; the same manifest re-rendered by new processes gives the same bytes."""
    manifest = tmp_path / "m.json"
    common = ["license", "new", "--name", "Round <Trip> & \\co", "--licensor", "R_T {Labs} 100%",
              "--flavor", "open", "--artifact", "model", "--artifact", "source", "--restrict",
              "biometrics.remote-identification", "--custom", "health: No triage.", "--notice", "Copyright R.",
              "--url", "https://example.org/rt", "--jurisdiction", "the State of New York"]
    assert cli(*common, "-f", "json", "-o", manifest).code == 0
    first: dict[str, bytes] = {}
    for fmt in FORMATS:
        target = tmp_path / f"first.{fmt}"
        assert cli(*common, "-f", fmt, "-o", target).code == 0
        first[fmt] = target.read_bytes()
    # 1. the CLI in new processes, for a text format and the binary one
    for fmt in ("md", "pdf", "html"):
        target = tmp_path / f"again.{fmt}"
        proc = run_cli("license", "render", str(manifest), "--format", fmt, "-o", str(target))
        assert proc.returncode == 0, proc.stderr
        assert target.read_bytes() == first[fmt], fmt
    # 2. every format in one new interpreter, with a different hash seed
    code = (
        "import hashlib, json, sys\n"
        "from railtrack.licenses import FORMATS, load_manifest, render\n"
        "spec = load_manifest(sys.argv[1])\n"
        "print(json.dumps({f: hashlib.sha256(render(spec, f)).hexdigest() for f in FORMATS}))\n"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    proc = subprocess.run([sys.executable, "-c", code, str(manifest)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    hashes = json.loads(proc.stdout)
    assert hashes == {f: hashlib.sha256(first[f]).hexdigest() for f in FORMATS}
    # and the in-process API agrees
    spec = load_manifest(manifest)
    assert render(spec, "md") == first["md"]
    assert json.loads(first["json"])["license_id"] == license_id(spec)


def test_release_kit(cli, tmp_path) -> None:
    from huggingface_hub import ModelCard

    from railtrack.licenses import KIT_FILES

    kit = tmp_path / "kit"
    r = cli(*BASE, "--restrict", "privacy.tracking-surveillance", "--format", "all", "-o", kit)
    assert r.code == 0, r
    assert sorted(p.name for p in kit.iterdir()) == sorted(KIT_FILES)
    spec = load_manifest(kit / "license.json")
    for name, fmt in KIT_FILES.items():
        assert (kit / name).read_bytes() == render(spec, fmt), name
    card = ModelCard((kit / "model-card-license.md").read_text())
    assert card.data.license_link == "LICENSE" and (kit / "LICENSE").read_text().startswith("Acme OpenRAIL-M\n")
    again = tmp_path / "again"
    assert cli("license", "render", str(kit / "license.json"), "--format", "all", "-o", again).code == 0
    assert all((again / n).read_bytes() == (kit / n).read_bytes() for n in KIT_FILES)
    _one_error_line(cli(*BASE, "--format", "all"))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_error_line(cli(*BASE, "--format", "all", "-o", blocker))
    _one_error_line(cli(*BASE, "--format", "all", "-o", tmp_path / "no" / "such" / "dir"))
    assert not (tmp_path / "no").exists()


def test_render_reads_manifest_from_stdin(tmp_path) -> None:
    manifest = json.dumps({"name": "Piped", "licensor": "P", "flavor": "rail", "artifacts": ["data"]})
    proc = run_cli("license", "render", "-", "--format", "txt", input=manifest)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Piped RAIL-D\n")
    bad = run_cli("license", "render", "-", input="{oops")
    assert bad.returncode == 2 and bad.stderr.startswith("railtrack: error: standard input is not valid JSON")
