"""identify on files, folders, model repos and cards; bad input; the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from railtrack.catalog.registry import load_registry
from railtrack.identify import identify_paths
from railtrack.identify.api import MAX_BYTES, identify_file, is_licenseish

from conftest import run_cli


def _write(p: Path, data: str | bytes) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data, encoding="utf-8")
    return p


@pytest.fixture
def model_repo(tmp_path: Path) -> Path:
    reg = load_registry()
    repo = tmp_path / "my-llama-finetune"
    _write(repo / "LICENSE", reg.get("llama3.1").read_text())
    _write(repo / "USE_POLICY.md", reg.get("llama3.1-aup").read_text())
    _write(repo / "README.md", "---\nlicense: llama3.1\nbase_model: meta-llama/Llama-3.1-8B\n---\n# My fine-tune\n\nIt chats.\n")
    _write(repo / "config.json", '{"model_type": "llama"}')
    _write(repo / "model.safetensors", b"\x00" * 64)
    _write(repo / ".git" / "LICENSE", "should be skipped")
    _write(repo / "original" / "LICENSE.txt", reg.get("llama3.2").read_text())
    return repo


def test_folder_is_walked_for_license_files(model_repo: Path) -> None:
    results = identify_paths([model_repo])
    by_name = {Path(r.path).relative_to(model_repo).as_posix(): r for r in results}
    assert set(by_name) == {"LICENSE", "USE_POLICY.md", "README.md", "original/LICENSE.txt"}
    assert by_name["LICENSE"].license == "llama3.1"
    assert by_name["USE_POLICY.md"].license == "llama3.1-aup"
    assert by_name["original/LICENSE.txt"].license == "llama3.2"
    readme = by_name["README.md"]
    assert readme.license == "unknown" and readme.declared == "llama3.1"
    assert all(r.status == "ok" for r in results)


def test_licenseish_names() -> None:
    for name in ("LICENSE", "LICENSE.md", "license.txt", "LICENCE", "COPYING", "USE_POLICY.md", "README.md",
                 "LICENSE-MODEL", "Notice.txt", "llama-2-license-2023.LICENSE"):
        assert is_licenseish(name), name
    for name in ("model.safetensors", "config.json", "train.py", "tokenizer.model", "license_check.py"):
        assert not is_licenseish(name), name


def test_bad_inputs_get_a_status(tmp_path: Path) -> None:
    lic = load_registry().get("creativeml-openrail-m").read_text()
    binary = _write(tmp_path / "weights.bin", bytes(range(256)) * 100)
    empty = _write(tmp_path / "EMPTY", b"")
    blank = _write(tmp_path / "BLANK", b"  \n\n\t")
    latin1 = _write(tmp_path / "LICENSE.latin1", lic.replace("\u2019", "'").encode("utf-8")
                    + "\nCopyright \u00a9 2022 Caf\u00e9 Rom\u00e1n\n".encode("latin-1"))
    utf16 = _write(tmp_path / "LICENSE.utf16", lic.encode("utf-16"))
    big = tmp_path / "HUGE_LICENSE.txt"
    with big.open("w", encoding="utf-8") as fh:
        fh.write(lic + "\n")
        filler = ("lorem ipsum dolor sit amet " * 40 + "\n")
        while fh.tell() <= MAX_BYTES + 1000:
            fh.write(filler)
    missing = tmp_path / "nope" / "LICENSE"
    results = identify_paths([binary, empty, blank, latin1, utf16, big, missing, tmp_path / "empty-dir"])
    status = {Path(r.path).name: (r.status, r.license) for r in results}
    assert status["weights.bin"] == ("binary", "unknown")
    assert status["EMPTY"] == ("empty", "unknown")
    assert status["BLANK"] == ("empty", "unknown")
    assert status["LICENSE.latin1"] == ("not-utf8", "creativeml-openrail-m")
    assert status["LICENSE.utf16"] == ("ok", "creativeml-openrail-m")
    assert status["HUGE_LICENSE.txt"] == ("truncated", "creativeml-openrail-m")
    assert status["LICENSE"] == ("unreadable", "unknown")
    assert status["empty-dir"][0] == "unreadable"  # does not exist either


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _write(tmp_path / "LICENSE", "x" * 100)
    real_open = Path.open

    def deny(self, *args, **kwargs):
        if self == p:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)
    r = identify_file(p)
    assert r.status == "unreadable" and "permission" in r.detail
    r = identify_file(tmp_path)  # a folder given where a file is read
    assert r.status == "unreadable" and "directory" in r.detail


def test_folder_without_license_files(tmp_path: Path) -> None:
    _write(tmp_path / "repo" / "train.py", "print('hi')\n")
    (r,) = identify_paths([tmp_path / "repo"])
    assert r.status == "empty" and "no license" in r.detail


def test_cli_json_one_object_per_file(model_repo: Path, cli) -> None:
    res = cli("identify", "--json", str(model_repo / "LICENSE"), str(model_repo / "USE_POLICY.md"),
              str(model_repo / "missing.txt"))
    assert res.code == 0, res
    data = json.loads(res.out)
    assert [d["license"] for d in data] == ["llama3.1", "llama3.1-aup", "unknown"]
    assert data[0]["version"] == "3.1" and data[0]["margin"] >= 0.5 and data[0]["coverage"] == 1.0
    assert data[0]["spans"][0]["license"] == "llama3.1"
    assert data[2]["status"] == "unreadable"
    assert res.err == ""


def test_cli_table_and_declared_mismatch(model_repo: Path, cli) -> None:
    res = cli("identify", "--declared", "llama3.2", "--no-clauses", str(model_repo / "LICENSE"))
    assert res.code == 0
    assert "llama3.1" in res.out and "mismatch" in res.out
    res = cli("identify", "--json", "--declared", "llama3.2", str(model_repo / "LICENSE"))
    assert json.loads(res.out)[0]["mismatch"] is True


def test_cli_usage_errors_exit_2() -> None:
    proc = run_cli("identify")
    assert proc.returncode == 2 and proc.stderr.startswith("railtrack: error:")
    assert proc.stderr.strip().count("\n") == 0
    proc = run_cli("identify", "--bogus", "x")
    assert proc.returncode == 2


def test_cli_stdin(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    text = load_registry().get("openrail++").read_text()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))
    res = cli("identify", "--json", "-")
    data = json.loads(res.out)
    assert data[0]["path"] == "-" and data[0]["license"] == "openrail++"


def test_real_model_cards_from_hub_trees(reference_dir: Path) -> None:
    """Real cards: declared licenses are read, and nothing is identified with confidence by mistake."""
    import csv

    csv.field_size_limit(10**8)
    path = reference_dir / "hub-trees" / "stable-diffusion-2-1_finetunes_20250422_220003.csv"
    from railtrack.identify import identify_text

    seen = found = 0
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            card = row.get("card") or ""
            if not card.startswith("---"):
                continue
            got = identify_text(card)
            seen += 1
            if got.declared:
                found += 1
            if got.license != "unknown":
                # a confident answer must carry a real span of the license text
                assert got.coverage >= 0.25 and got.margin >= 0.2
            if seen >= 60:
                break
    assert seen >= 30 and found >= 20
