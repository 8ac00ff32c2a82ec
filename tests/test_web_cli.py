"""``railtrack serve`` and ``railtrack demo``: loopback by default, clear errors, the sample store."""

from __future__ import annotations

import socket

import httpx
import psutil
import pytest

from conftest import run_cli
from webserver import Server, free_port


def test_demo_builds_the_sample_store_once_atomically(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    first = run_cli("demo", "--build-only", env=env)
    assert first.returncode == 0, first.stderr
    path = first.stdout.strip()
    assert path.startswith(str(tmp_path / "data")) and path.endswith(".duckdb")
    from railtrack.store import connect

    con = connect(path, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM models").fetchone()[0] > 100
        assert con.execute("SELECT count(*) FROM generated_licenses").fetchone()[0] >= 5
        assert con.execute("SELECT count(*) FROM watchlist").fetchone()[0] == 1
    finally:
        con.close()
    leftovers = [p.name for p in (tmp_path / "data" / "railtrack").iterdir() if p.name.endswith(".tmp")]
    assert not leftovers
    again = run_cli("demo", "--build-only", env=env)
    assert again.returncode == 0 and again.stdout.strip() == path
    assert "importing" not in again.stderr  # reused, not rebuilt


def test_serve_binds_loopback_by_default(tmp_path):
    srv = Server(tmp_path / "s.duckdb")
    try:
        proc = psutil.Process(srv.proc.pid)
        listening = [c.laddr for c in proc.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        assert listening and all(addr.ip == "127.0.0.1" for addr in listening)
        assert httpx.get(srv.url + "/").status_code == 200
    finally:
        out, err = srv.stop()
    assert f"http://localhost:{srv.port}/" in out


def test_serve_on_a_busy_port_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = run_cli("serve", "--db", str(tmp_path / "s.duckdb"), "--port", str(port), timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("railtrack: error: cannot listen on 127.0.0.1:")
    assert proc.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("args, message", [
    (["--port", "70000"], "--port must be between 1 and 65535"),
    (["--watermark-key", "/no/such/key.json"], "does not exist"),
])
def test_serve_bad_options(tmp_path, args, message):
    proc = run_cli("serve", "--db", str(tmp_path / "s.duckdb"), *args, timeout=60)
    assert proc.returncode == 2 and message in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_serve_a_store_that_is_not_a_store(tmp_path):
    bogus = tmp_path / "bogus.duckdb"
    bogus.write_text("not a database")
    proc = run_cli("serve", "--db", str(bogus), "--port", str(free_port()), timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("railtrack: error:")
    assert "bogus.duckdb" in proc.stderr and proc.stderr.strip().count("\n") == 0
