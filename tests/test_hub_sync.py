"""Live sync against the local fake Hub: pagination, faults, incremental runs, kill-and-resume.

The real huggingface_hub HTTP code path is used (``HF_ENDPOINT`` pointing at
``tests/fakehub.py``); only huggingface_hub's offline switch, which conftest turns on for
every test, is turned off for these tests.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from railtrack.errors import InputError
from railtrack.hub.live import sync
from railtrack.store import connect

sys.path.insert(0, str(Path(__file__).parent))
from fakehub import FakeHub, make_models  # noqa: E402


@pytest.fixture
def online(monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def test_sync_paginates_through_faults(online, monkeypatch):
    models = make_models(23)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token")
    with FakeHub(models, faults={2: "429", 4: "drop", 6: "503", 8: "429-ratelimit"}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        con = connect(":memory:")
        res = sync(con, page_size=5)
        assert res.rows_read == 23 and res.rows_imported == 23 and res.models_new == 23
        # every page retried after its fault, cursors followed in order
        cursors = [r["query"].get("cursor", [None])[0] for r in hub.requests]
        assert cursors == [None, "5", "5", "10", "10", "15", "15", "20", "20"]
        assert all(r["authorization"] == "Bearer hf_secret_token" for r in hub.requests)
        assert "cardData" in hub.requests[0]["query"]["expand"] and hub.requests[0]["query"]["sort"] == ["lastModified"]
    assert con.execute("SELECT count(*), count(DISTINCT model_id) FROM models").fetchone() == (23, 23)
    lic = {tuple(k): v for k, v in con.execute("SELECT licenses, count(*) FROM models GROUP BY 1").fetchall()}
    # make_models cycles 8 licenses: apache-2.0, mit, llama2, openrail, creativeml-openrail-m, other, none, none
    assert lic[("apache-2.0",)] == 3 and lic[("llama2",)] == 3 and lic[()] == 5 and lic[("other",)] == 3
    # `other` + license_name resolving to Llama 2 counts as behavioral use
    assert con.execute("SELECT bool_and(behavioral_use) FROM models WHERE licenses = ['other']").fetchone()[0] is True
    assert con.execute("SELECT count(*) FROM base_models WHERE relation = 'finetune' AND source = 'both'").fetchone()[0] == 7
    run = con.execute("SELECT status, cursor, rows_read FROM import_runs").fetchone()
    assert run == ("done", None, 23)
    assert con.execute("SELECT count(*) FROM model_observations").fetchone()[0] == 23


def test_incremental_sync_fetches_only_changes(online):
    models = make_models(30)
    with FakeHub(models) as hub:
        con = connect(":memory:")
        sync(con, endpoint=hub.url, page_size=10)
        first = len(hub.requests)
        assert first == 3
        # two new models and one re-modified model appear
        later = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)
        changed = make_models(2, start=later, prefix="fresh")
        updated = dict(models[4])
        updated["lastModified"] = (later + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        updated["cardData"] = {"license": "gemma"}
        updated["tags"] = ["license:gemma"]
        hub.set_models(models[:4] + [updated] + models[5:] + changed)
        res = sync(con, endpoint=hub.url, page_size=10)
        assert len(hub.requests) - first == 1  # stopped at the previous high-water mark
        assert res.models_new == 2 and res.models_updated >= 1
        assert con.execute("SELECT licenses FROM models WHERE model_id = ?", [updated["id"]]).fetchone()[0] == ["gemma"]
        assert con.execute("SELECT count(*) FROM models").fetchone()[0] == 32
        # a --limit trial run does not move the high-water mark
        hub.set_models(models[:4] + [updated] + models[5:] + changed + make_models(3, start=later + dt.timedelta(days=1),
                                                                                    prefix="newer"))
        res = sync(con, endpoint=hub.url, page_size=10, limit=1)
        assert res.rows_imported == 1
        res = sync(con, endpoint=hub.url, page_size=10)
        assert res.models_new == 2  # the two newer models the trial run left out
        assert con.execute("SELECT count(*) FROM models").fetchone()[0] == 35
        # --full ignores the high-water mark
        before = len(hub.requests)
        sync(con, endpoint=hub.url, page_size=10, full=True)
        assert len(hub.requests) - before == 4
        assert con.execute("SELECT count(*) FROM models").fetchone()[0] == 35


def test_sync_gives_up_with_one_clear_error(online):
    with FakeHub(make_models(3), faults={i: "500" for i in range(1, 10)}) as hub:
        con = connect(":memory:")
        with pytest.raises(InputError, match="refused|cannot reach"):
            sync(con, endpoint=hub.url, page_size=5, max_retries=1)
    # the run stays resumable, nothing half-written
    assert con.execute("SELECT count(*) FROM models").fetchone()[0] == 0
    assert con.execute("SELECT status FROM import_runs").fetchone()[0] == "running"


def test_offline_mode_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    con = connect(":memory:")
    with pytest.raises(InputError, match="offline"):
        sync(con, endpoint="http://127.0.0.1:9", page_size=5)


def test_kill_and_resume(online, tmp_path):
    models = make_models(40)
    db = tmp_path / "sync.duckdb"
    with FakeHub(models, slow_seconds=0.4) as hub:
        env = dict(os.environ, HF_HUB_OFFLINE="0", HF_ENDPOINT=hub.url, RAILTRACK_DB=str(db))
        proc = subprocess.Popen([sys.executable, "-m", "railtrack", "hub", "sync", "--page-size", "5"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while hub.pages_served < 4 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        served_before = hub.pages_served
        assert 4 <= served_before < 8
        hub.slow_seconds = 0.0
        n_before = len(hub.requests)
        con = connect(db)
        interrupted = con.execute("SELECT run_id, status, cursor FROM import_runs").fetchall()
        assert len(interrupted) == 1 and interrupted[0][1] == "running" and interrupted[0][2] is not None
        res = sync(con, endpoint=hub.url, page_size=5)
        assert res.run_id == interrupted[0][0]
        resumed = hub.requests[n_before:]
        assert resumed[0]["query"].get("cursor") is not None  # continued, not restarted
    assert con.execute("SELECT count(*), count(DISTINCT model_id) FROM models").fetchone() == (40, 40)
    assert con.execute("SELECT count(*) FROM model_observations").fetchone()[0] == 40
    assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 1
    assert con.execute("SELECT status, rows_read FROM import_runs").fetchall() == [("done", 40)]
