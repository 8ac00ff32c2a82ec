"""The text check page and API: watermark detection with the server's key (railtrack.watermark)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from railtrack.web import create_app
from webserver import human_text, make_key, make_word_tokenizer, watermarked_text


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    return make_word_tokenizer(tmp_path_factory.mktemp("wm") / "tokenizer")


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    return make_key(tmp_path_factory.mktemp("wmkey") / "key.json")


@pytest.fixture
def client(key_file, tokenizer_dir):
    app = create_app(":memory:", watermark_key=key_file, tokenizer=str(tokenizer_dir))
    with TestClient(app) as c:
        yield c


def test_api_tells_watermarked_from_human_text(client, key_file, tokenizer_dir):
    marked = client.post("/api/watermark/detect", json={"text": watermarked_text(key_file, tokenizer_dir)}).json()
    assert marked["watermarked"] is True and marked["z_score"] >= 4 and marked["p_value"] < 1e-4
    human = client.post("/api/watermark/detect", json={"text": human_text()}).json()
    assert human["watermarked"] is False and human["z_score"] < 4
    from railtrack.watermark.keys import WatermarkKey

    key = WatermarkKey.load(key_file)
    assert marked["key_fingerprint"] == key.fingerprint
    secret = json.loads(key_file.read_text())["secret"]
    for body in (json.dumps(marked), client.get("/api/watermark").text, client.get("/check").text):
        assert secret not in body  # the key itself never leaves the server


def test_windowed_check_finds_a_pasted_passage(client, key_file, tokenizer_dir):
    mixed = human_text(300, seed=3) + " " + watermarked_text(key_file, tokenizer_dir, n=110, seed=4) + " " + human_text(300, seed=5)
    data = client.post("/api/watermark/detect", json={"text": mixed, "windows": True, "mask": True}).json()
    assert data["window"]["z_score"] >= 4
    assert len(data["token_mask"]) == data["tokens_total"]


def test_check_page_shows_the_verdict_and_green_tokens(client, key_file, tokenizer_dir):
    assert client.get("/").text.count('href="/check"') == 1  # in the navigation when a key is set
    resp = client.post("/check", data={"text": watermarked_text(key_file, tokenizer_dir)})
    assert resp.status_code == 200
    assert 'id="verdict" class="verdict-violation">watermarked<' in resp.text
    assert resp.text.count('class="token-green"') >= 100
    human = client.post("/check", data={"text": human_text()})
    assert ">not watermarked<" in human.text


def test_check_input_errors_and_escaping(client):
    empty = client.post("/check", data={"text": "   "})
    assert empty.status_code == 422 and "paste some text" in empty.text
    evil = "<script>alert(1)</script> the model"
    resp = client.post("/check", data={"text": evil})
    assert "<script>alert(1)</script>" not in resp.text and "&lt;script&gt;" in resp.text
    assert client.post("/api/watermark/detect", json={"text": ""}).status_code == 422
    assert client.post("/api/watermark/detect", json={"text": "x", "z_threshold": 0}).status_code == 422


def test_text_check_is_off_without_a_key():
    with TestClient(create_app(":memory:")) as c:
        assert 'href="/check"' not in c.get("/").text
        assert c.get("/check", headers={"accept": "text/html"}).status_code == 404
        resp = c.post("/api/watermark/detect", json={"text": "hello"})
        assert resp.status_code == 404 and "--watermark-key" in resp.json()["detail"]
        assert c.get("/api/watermark").json() == {"enabled": False}


def test_a_bad_key_file_fails_at_start(tmp_path):
    from railtrack.errors import RailtrackError

    bad = tmp_path / "key.json"
    bad.write_text("{}")
    with pytest.raises(RailtrackError, match="not a railtrack watermark key file"):
        create_app(":memory:", watermark_key=bad)
