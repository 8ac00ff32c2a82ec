"""Corpus scans (readers, Benjamini-Hochberg, evidence report, Dask LocalCluster = in-process) and the
keygen / detect / scan CLI."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from railtrack.watermark.keys import WatermarkKey, WatermarkParams
from railtrack.watermark.scan import Document, benjamini_hochberg, read_corpus, render_markdown, scan

from _watermark_helpers import make_tokenizer, random_ids, watermarked_ids, words_of

VOCAB = 1202


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer()


@pytest.fixture(scope="module")
def key():
    return WatermarkKey(b"scan-test-secret-0123456789abcdef", WatermarkParams(gamma=0.25, delta=2.0))


@pytest.fixture(scope="module")
def corpus(key):
    rng = np.random.default_rng(11)
    docs = []
    for i in range(8):
        docs.append(Document(f"wm-{i}", words_of(watermarked_ids(key, 150, VOCAB, rng, green_prob=0.8))))
    for i in range(14):
        docs.append(Document(f"human-{i}", words_of(random_ids(int(rng.integers(20, 400)), VOCAB, rng))))
    for i in range(4):
        a, b = random_ids(300, VOCAB, rng), random_ids(300, VOCAB, rng)
        w = watermarked_ids(key, 101, VOCAB, rng, start=[a[-1]])[1:]
        docs.append(Document(f"mixed-{i}", words_of(a + w + b)))
    docs.append(Document("empty", ""))
    return docs


def test_corpus_readers_agree(tmp_path, corpus):
    import pyarrow as pa
    import pyarrow.parquet as pq

    jl = tmp_path / "c.jsonl"
    jl.write_text("".join(json.dumps({"id": d.id, "text": d.text}) + "\n" for d in corpus), encoding="utf-8")
    pq.write_table(pa.table({"id": [d.id for d in corpus], "text": [d.text for d in corpus]}), tmp_path / "c.parquet")
    folder = tmp_path / "txt"
    folder.mkdir()
    for d in corpus:
        (folder / f"{d.id}.txt").write_text(d.text, encoding="utf-8")
    a, b = read_corpus(jl), read_corpus(tmp_path / "c.parquet")
    c = read_corpus(folder)
    assert [(d.id, d.text) for d in a] == [(d.id, d.text) for d in b] == [(d.id, d.text) for d in corpus]
    assert sorted((d.id, d.text) for d in c) == sorted((d.id + ".txt", d.text) for d in corpus)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n')
    from railtrack.errors import InputError

    with pytest.raises(InputError, match="bad.jsonl:2"):
        read_corpus(bad)
    with pytest.raises(InputError):
        read_corpus(tmp_path / "nothing.csv")


def test_benjamini_hochberg_against_a_direct_implementation():
    rng = np.random.default_rng(2)
    p = np.concatenate([rng.uniform(size=200), rng.uniform(0, 1e-4, size=20)])
    q = benjamini_hochberg(p)
    m = len(p)
    order = np.argsort(p)
    direct = np.empty(m)
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        direct[i] = running
    assert np.allclose(q, direct)
    assert (q <= 0.01).sum() >= 20


def test_scan_flags_watermarked_documents_and_spans(corpus, key, tok):
    rep = scan(corpus, key, tok, alpha=0.01)
    by = {d["id"]: d for d in rep["documents"]}
    assert all(by[f"wm-{i}"]["flagged"] for i in range(8))
    assert not any(by[f"human-{i}"]["flagged"] for i in range(14))
    assert not by["empty"]["flagged"] and by["empty"]["tokens_scored"] == 0
    for i in range(4):  # the pasted passage is found by the windows, with character offsets
        d = by[f"mixed-{i}"]
        spans = d["window"]["spans"]
        assert spans, d
        text = corpus[22 + i].text
        wm_start = len(" ".join(text.split(" ")[:300]))
        assert any(s["start_char"] <= wm_start + 400 and s["end_char"] >= wm_start + 200 for s in spans)
    assert rep["key_fingerprint"] == key.fingerprint
    assert rep["tokenizer"]["name"] == "railtrack-test-wordlevel" and len(rep["tokenizer"]["sha256"]) == 64
    assert rep["params"]["gamma"] == 0.25 and rep["method"]["alpha"] == 0.01
    assert key.secret.hex() not in json.dumps(rep)
    q = benjamini_hochberg([d["p_value"] for d in rep["documents"]])
    assert [d["q_value"] for d in rep["documents"]] == pytest.approx(q.tolist())


@pytest.mark.slow
def test_dask_local_cluster_scan_equals_in_process(corpus, key, tok):
    local = scan(corpus, key, tok, chunk_size=5)
    distributed = scan(corpus, key, tok, chunk_size=5, scheduler="local")
    assert distributed["backend"]["kind"] == "dask" and distributed["backend"]["chunks"] == 6
    assert local["documents"] == distributed["documents"]
    assert local["summary"] == distributed["summary"]


def test_markdown_report_escapes_user_text(key, tok):
    rep = scan([Document("a|b <script>*x*", "kalomi lomine"), Document("[link](http://x)", "")], key, tok,
               windows=())
    md = render_markdown(rep)
    assert "<script>" not in md and "a\\|b" in md and "\\[link\\]" in md


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def tok_dir(tmp_path, tok):
    folder = tmp_path / "tok"
    tok.save_pretrained(folder)
    return folder


def test_light_tokenizer_matches_transformers(tok_dir, tok, corpus):
    from railtrack.watermark.models import LightTokenizer, load_detection_tokenizer

    light = load_detection_tokenizer(str(tok_dir))
    assert isinstance(light, LightTokenizer) and len(light) == len(tok)
    texts = [d.text for d in corpus[:5]] + ["kalomi unknownword  lomine"]
    a = light(texts, add_special_tokens=False, return_offsets_mapping=True)
    b = tok(texts, add_special_tokens=False, return_offsets_mapping=True)
    assert a["input_ids"] == b["input_ids"]
    assert [list(map(tuple, o)) for o in a["offset_mapping"]] == [list(map(tuple, o)) for o in b["offset_mapping"]]


def test_keygen_cli(cli, tmp_path):
    res = cli("watermark", "keygen", "-o", tmp_path / "k.json", "--gamma", "0.5", "--json")
    assert res.code == 0
    out = json.loads(res.out)
    key = WatermarkKey.load(tmp_path / "k.json")
    assert out["fingerprint"] == key.fingerprint and out["params"]["gamma"] == 0.5
    assert key.secret.hex() not in res.out + res.err
    assert stat.S_IMODE(os.stat(tmp_path / "k.json").st_mode) == 0o600
    again = cli("watermark", "keygen", "-o", tmp_path / "k.json")
    assert again.code == 2 and "exists" in again.err
    assert cli("watermark", "keygen", "-o", tmp_path / "x.json", "--gamma", "2").code == 2


def test_detect_cli(cli, tmp_path, tok_dir, key, corpus, monkeypatch):
    import io

    kfile = tmp_path / "k.json"
    key.save(kfile)
    (tmp_path / "wm.txt").write_text(corpus[0].text)
    res = cli("watermark", "detect", tmp_path / "wm.txt", "--key", kfile, "--tokenizer", tok_dir, "--json",
              "--mask", "--windows", "50,100")
    assert res.code == 0, res
    out = json.loads(res.out)
    for field in ("watermarked", "z_score", "p_value", "tokens_scored", "green_fraction", "p_value_normal",
                  "key_fingerprint", "params", "tokenizer", "window", "token_mask"):
        assert field in out
    assert out["watermarked"] is True and out["z_score"] > 6
    assert len(out["token_mask"]) == 150 and out["token_mask"][0]["green"] is None
    assert key.secret.hex() not in res.out + res.err
    monkeypatch.setattr("sys.stdin", io.StringIO(corpus[9].text))
    plain = cli("watermark", "detect", "-", "--key", kfile, "--tokenizer", tok_dir, "--exit-code")
    assert plain.code == 0 and plain.out.startswith("not watermarked")
    flagged = cli("watermark", "detect", tmp_path / "wm.txt", "--key", kfile, "--tokenizer", tok_dir, "--exit-code")
    assert flagged.code == 1 and flagged.out.startswith("WATERMARKED")
    missing = cli("watermark", "detect", tmp_path / "nope.txt", "--key", kfile, "--tokenizer", tok_dir)
    assert missing.code == 2 and missing.err.startswith("railtrack: error:")
    nokey = cli("watermark", "detect", tmp_path / "wm.txt", "--key", tmp_path / "nokey", "--tokenizer", tok_dir)
    assert nokey.code == 2 and "does not exist" in nokey.err


def test_scan_cli_report(cli, tmp_path, tok_dir, key, corpus):
    kfile = tmp_path / "k.json"
    key.save(kfile)
    jl = tmp_path / "c.jsonl"
    jl.write_text("".join(json.dumps({"id": d.id, "text": d.text}) + "\n" for d in corpus), encoding="utf-8")
    res = cli("watermark", "scan", jl, "--key", kfile, "--tokenizer", tok_dir, "--json", "--report", tmp_path / "r.md")
    assert res.code == 0, res
    rep = json.loads(res.out)
    assert rep["summary"]["flagged"] >= 8 and rep["corpus"]["documents"] == len(corpus)
    md = (tmp_path / "r.md").read_text()
    assert key.fingerprint in md and "Benjamini-Hochberg" in md
    res2 = cli("watermark", "scan", jl, "--key", kfile, "--tokenizer", tok_dir, "--report", tmp_path / "r.json",
               "--exit-code")
    assert res2.code == 1 and "flagged" in res2.out
    saved = json.loads((tmp_path / "r.json").read_text())
    assert [d["id"] for d in saved["documents"]] == [d.id for d in corpus]
    for blob in (res.out, res.err, md, (tmp_path / "r.json").read_text()):
        assert key.secret.hex() not in blob
    bad = cli("watermark", "scan", tmp_path / "missing.jsonl", "--key", kfile, "--tokenizer", tok_dir)
    assert bad.code == 2
    assert not (tmp_path / "missing-report.json").exists()
