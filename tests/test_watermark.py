"""Watermark core: PRF (numpy vs torch), keys, exact statistics, repeated n-grams, windows, token masks."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from railtrack.errors import InputError, NotFoundError, UsageError
from railtrack.watermark import prf
from railtrack.watermark.detect import (binomial_p_values, detect_ids, detect_ids_many, score_sequences, token_flags,
                                        windowed, z_scores)
from railtrack.watermark.keys import WatermarkKey, WatermarkParams

from _watermark_helpers import random_ids, watermarked_ids

SECRET = bytes(range(32))


def _key(**params) -> WatermarkKey:
    return WatermarkKey(SECRET, WatermarkParams(**params))


# --------------------------------------------------------------------------- PRF


@pytest.mark.parametrize("seeding,width", [("lefthash", 1), ("lefthash", 3), ("selfhash", 1), ("selfhash", 4)])
def test_green_lists_identical_in_numpy_and_torch(seeding, width):
    """Two independent implementations (numpy uint32, torch int64 on the CPU device) agree bit for bit."""
    import torch

    key = _key(context_width=width, seeding=seeding)
    rng = np.random.default_rng(0)
    ctx = rng.integers(0, 2**31, size=(6, width))
    ctx[0] = 0
    ctx[1] = 2**32 - 1  # the extremes of the id range
    a = prf.green_mask_np(ctx, 5003, seeding, 0.3, key.words)
    b = prf.green_mask_torch(torch.tensor(ctx), 5003, seeding, 0.3, key.words).numpy()
    assert a.shape == b.shape == (6, 5003)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("seeding,width", [("lefthash", 1), ("lefthash", 2), ("selfhash", 3)])
def test_position_scoring_matches_vocabulary_masks(seeding, width):
    key = _key(context_width=width, seeding=seeding)
    ids = np.random.default_rng(1).integers(0, 800, size=300)
    flags = prf.green_positions_np(ids, width, seeding, key.gamma, key.words)
    ctx = np.stack([ids[i - width : i] for i in range(width, len(ids))])
    masks = prf.green_mask_np(ctx, 800, seeding, key.gamma, key.words)
    assert np.array_equal(flags, masks[np.arange(len(ctx)), ids[width:]])


def test_green_fraction_is_gamma_and_key_dependent():
    for gamma in (0.1, 0.25, 0.5):
        k = _key(gamma=gamma)
        m = prf.green_mask_np(np.arange(64)[:, None], 49152, "lefthash", gamma, k.words)
        # 64 x 49152 Bernoulli(gamma) draws: the mean is within 5 standard errors
        assert abs(m.mean() - gamma) < 5 * np.sqrt(gamma * (1 - gamma) / m.size)
        # each list has about gamma * V members
        assert np.all(np.abs(m.mean(axis=1) - gamma) < 0.02)
    a = prf.green_mask_np(np.array([[7]]), 4096, "lefthash", 0.25, _key().words)
    b = prf.green_mask_np(np.array([[7]]), 4096, "lefthash", 0.25, WatermarkKey(b"\x01" * 32).words)
    c = prf.green_mask_np(np.array([[8]]), 4096, "lefthash", 0.25, _key().words)
    assert 0.5 < (a == b).mean() < 0.8  # independent lists agree on ~ gamma^2 + (1-gamma)^2 = 0.625
    assert 0.5 < (a == c).mean() < 0.8


def test_context_order_matters_for_lefthash():
    k = _key(context_width=2)
    m = prf.green_mask_np(np.array([[3, 9], [9, 3]]), 4096, "lefthash", 0.25, k.words)
    assert not np.array_equal(m[0], m[1])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**32 - 1), min_size=2, max_size=40))
def test_prf_numpy_torch_agree_on_arbitrary_ids(ids):
    import torch

    k = _key()
    ctx = np.asarray(ids, dtype=np.int64)[:, None]
    a = prf.green_mask_np(ctx, 257, "lefthash", 0.25, k.words)
    b = prf.green_mask_torch(torch.tensor(ctx), 257, "lefthash", 0.25, k.words).numpy()
    assert np.array_equal(a, b)


# --------------------------------------------------------------------------- keys


def test_key_file_roundtrip_mode_and_fingerprint(tmp_path):
    key = WatermarkKey.generate(gamma=0.5, delta=1.5, context_width=2, seeding="selfhash")
    path = key.save(tmp_path / "wm.key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = WatermarkKey.load(path)
    assert loaded.secret == key.secret and loaded.params == key.params
    assert loaded.fingerprint == key.fingerprint and loaded.fingerprint.startswith("rtwm-")
    assert key.secret.hex() not in repr(key) and key.secret.hex() not in str(key)
    with pytest.raises(UsageError):
        key.save(path)  # refuses to overwrite
    assert WatermarkKey.generate().fingerprint != key.fingerprint


def test_bad_key_files(tmp_path):
    with pytest.raises(NotFoundError):
        WatermarkKey.load(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.write_text("not json")
    with pytest.raises(InputError):
        WatermarkKey.load(bad)
    doc = json.loads(WatermarkKey.generate().save(tmp_path / "k").read_text())
    doc["secret"] = "00" * 32
    bad.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="fingerprint"):
        WatermarkKey.load(bad)
    with pytest.raises(UsageError):
        WatermarkParams(gamma=1.5)
    with pytest.raises(UsageError):
        WatermarkParams(seeding="minhash")


# --------------------------------------------------------------------------- statistics


def _reference_counts(ids, key, ignore_repeated):
    """A direct, loop-based count: one vocabulary mask per position."""
    h = key.context_width
    seen, scored, green = set(), 0, 0
    for i in range(h, len(ids)):
        gram = tuple(ids[i - h : i + 1])
        if ignore_repeated and gram in seen:
            continue
        seen.add(gram)
        mask = prf.green_mask_np(np.asarray([ids[i - h : i]]), max(ids) + 1, key.seeding, key.gamma, key.words)[0]
        scored += 1
        green += int(mask[ids[i]])
    return scored, green


@pytest.mark.parametrize("width,seeding", [(1, "lefthash"), (2, "lefthash"), (2, "selfhash")])
def test_counts_match_a_loop_reference(width, seeding):
    key = _key(context_width=width, seeding=seeding)
    rng = np.random.default_rng(3)
    docs = [random_ids(int(n), 60, rng) for n in (0, 1, 2, 5, 80, 200)] + [watermarked_ids(key, 120, 300, rng)]
    for ignore in (True, False):
        dets = detect_ids_many(docs, key, ignore_repeated_ngrams=ignore)
        for d, ids in zip(dets, docs):
            assert (d.tokens_scored, d.green_tokens) == _reference_counts(ids, key, ignore)


def test_exact_p_values_against_scipy():
    rng = np.random.default_rng(5)
    for gamma in (0.25, 0.5):
        key = _key(gamma=gamma)
        docs = [watermarked_ids(key, int(n), 5000, rng, green_prob=float(p))
                for n, p in ((30, 0.0), (60, 0.3), (200, 0.6), (400, 1.0))]
        for det in detect_ids_many(docs, key):
            T, G = det.tokens_scored, det.green_tokens
            ref = stats.binomtest(G, T, gamma, alternative="greater").pvalue
            assert det.p_value == pytest.approx(ref, rel=1e-9, abs=1e-300)
            z = (G - gamma * T) / np.sqrt(T * gamma * (1 - gamma))
            assert det.z_score == pytest.approx(z)
            assert det.p_value_normal == pytest.approx(stats.norm.sf(z), rel=1e-9, abs=1e-300)
    # the normal tail overstates significance for a short text: exact p is larger
    assert float(binomial_p_values(25, 50, 0.25)) > float(stats.norm.sf(z_scores(25, 50, 0.25)))
    assert float(binomial_p_values(0, 0, 0.25)) == 1.0 and float(z_scores(0, 0, 0.25)) == 0.0


def test_watermarked_versus_human_like_sequences():
    key = _key()
    rng = np.random.default_rng(6)
    wm = detect_ids(watermarked_ids(key, 200, 49152, rng, green_prob=0.7), key)
    plain = detect_ids(random_ids(200, 49152, rng), key)
    assert wm.watermarked and wm.z_score > 8 and wm.p_value < 1e-12
    assert not plain.watermarked and abs(plain.z_score) < 4
    assert wm.to_dict()["key_fingerprint"] == key.fingerprint


def test_repeated_ngrams_are_scored_once():
    key = _key()
    rng = np.random.default_rng(7)
    unit = watermarked_ids(key, 20, 5000, rng)
    ids = unit * 10  # the same 20-token passage ten times
    once = detect_ids(ids, key)
    every = detect_ids(ids, key, ignore_repeated_ngrams=False)
    distinct = len({tuple(ids[i - 1 : i + 1]) for i in range(1, len(ids))})
    assert once.tokens_scored == distinct == 20
    assert every.tokens_scored == len(ids) - 1
    # counting repeats inflates z for the same evidence
    assert every.z_score > 2 * once.z_score
    flags = token_flags(ids, key)
    assert (flags >= 0).sum() == distinct and flags[0] == -1


def test_windowed_detection_finds_a_pasted_passage():
    key = _key()
    rng = np.random.default_rng(8)
    human_a, human_b = random_ids(500, 30000, rng), random_ids(500, 30000, rng)
    wm = watermarked_ids(key, 100, 30000, rng, green_prob=0.9, start=[human_a[-1]])[1:]
    ids = human_a + wm + human_b
    whole = detect_ids(ids, key, windows=(50, 100, 200))
    w = whole.window
    assert w is not None and w.z_score > whole.z_score
    assert w.z_score >= 4 and w.p_value_bonferroni < 1e-4
    assert w.start_token < 600 and w.end_token > 500  # overlaps the pasted passage
    assert w.spans and any(s["start_token"] <= 560 and s["end_token"] >= 540 for s in w.spans)
    assert w.windows_tested > 1000
    # on human text alone the maximum window z is larger than a single test's but no span is flagged
    plain = windowed(human_a + human_b, key, windows=(50, 100, 200))
    assert plain.spans == [] and plain.z_score < 4 and plain.p_value_bonferroni > 1e-3


def test_score_sequences_ignores_context_across_documents():
    key = _key()
    bulk = score_sequences([[5, 6, 7], [8, 9]], key)
    assert bulk.pos.tolist() == [1, 2, 1] and bulk.doc.tolist() == [0, 0, 1]


# --------------------------------------------------------------------------- evaluation helpers


def test_strip_card_keeps_prose_only():
    from railtrack.watermark.evaluate import strip_card

    card = ("---\nlicense: llama2\ntags: [a]\n---\n# Model card\n\nThis model was trained by <b>us</b> on "
            "[our data](https://x.org/d). See https://example.com.\n\n```python\nimport torch\n```\n"
            "| col | col |\n|---|---|\n| 1 | 2 |\n\n![img](pic.png) It answers `questions` well.\n")
    out = strip_card(card)
    assert "license:" not in out and "import torch" not in out and "<b>" not in out
    assert "https://" not in out and "| col" not in out and "pic.png" not in out and "questions" not in out
    assert "This model was trained by us on our data." in out.replace("  ", " ").replace(" .", ".") or \
        "This model was trained by" in out
    assert out.startswith("Model card")


def test_attacks_and_settings():
    from railtrack.watermark.evaluate import delete_words, parse_settings, prompts, substitute_words

    rng = np.random.default_rng(0)
    text = " ".join(f"w{i}" for i in range(1000))
    kept = delete_words(text, 0.3, rng).split(" ")
    assert 600 < len(kept) < 800 and all(w.startswith("w") for w in kept)
    sub = substitute_words(text, 0.1, ["zz"], rng).split(" ")
    assert len(sub) == 1000 and 50 < sub.count("zz") < 150
    assert parse_settings("0.25:2, 0.5:1") == [(0.25, 2.0), (0.5, 1.0)]
    with pytest.raises(UsageError):
        parse_settings("0.25")
    assert len(set(prompts(128))) == 128


def test_human_passages_from_reference(reference_dir):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from railtrack.watermark.evaluate import _card_texts, human_passages

    backend = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.train_from_iterator(_card_texts(reference_dir / "hub-trees"),
                                trainers.WordLevelTrainer(vocab_size=20000, special_tokens=["[UNK]"]))
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    passages, cards, counts = human_passages(reference_dir / "hub-trees", tok, 50, extra_sources=False)
    assert len(cards) > 500 and counts["model_cards"] == len(passages) > 100
    assert all(len(p) == 50 for p in passages)
    assert len({p.tobytes() for p in passages}) == len(passages)
