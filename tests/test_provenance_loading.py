"""Weight loading, name alignment and the null model of railtrack.provenance, on small hand-made files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file as save_torch

from railtrack.errors import InputError, NotFoundError
from railtrack.provenance import CompareOptions, compare, find_candidates, layout_of, open_checkpoint, widen_bf16
from railtrack.provenance.stats import exact_p_value, matched_scores, normalize_rows, permuted_projections

OPTS = CompareOptions(threads=1)


# -- bf16 widening -----------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, width=32), min_size=1, max_size=64))
def test_widen_bf16_matches_torch(values):
    t = torch.tensor(values, dtype=torch.float32).to(torch.bfloat16)
    raw = t.view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(widen_bf16(raw), t.float().numpy())


def test_dtypes_and_slices_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 24)).astype(np.float32)
    tensors = {"a32": torch.from_numpy(x), "a16": torch.from_numpy(x).half(), "ab16": torch.from_numpy(x).bfloat16(),
               "a64": torch.from_numpy(x).double(), "vec": torch.arange(5, dtype=torch.float32)}
    save_torch(tensors, str(tmp_path / "model.safetensors"))
    ck = open_checkpoint(tmp_path)
    assert {n: ck.info(n).dtype for n in ck.names()} == {"a32": "F32", "a16": "F16", "ab16": "BF16", "a64": "F64",
                                                          "vec": "F32"}
    for name, t in tensors.items():
        ref = t.float().numpy()
        np.testing.assert_array_equal(ck.read(name), ref)
        if ref.ndim == 2:
            np.testing.assert_array_equal(ck.read(name, 7, 19), ref[7:19])
            np.testing.assert_array_equal(ck.take(name, np.array([3, 0, 39])), ref[[3, 0, 39]])
            chunks = list(ck.iter_rows(name, chunk_elements=24 * 6))
            assert [a for a, _ in chunks] == [0, 6, 12, 18, 24, 30, 36]
            np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]), ref)
    assert ck.n_parameters == 4 * 40 * 24 + 5


def test_single_file_and_unindexed_shards(tmp_path):
    save_numpy({"x": np.ones((2, 3), np.float32)}, str(tmp_path / "part-1.safetensors"))
    save_numpy({"y": np.zeros((4,), np.float32)}, str(tmp_path / "part-2.safetensors"))
    assert sorted(open_checkpoint(tmp_path).names()) == ["x", "y"]
    assert open_checkpoint(tmp_path / "part-1.safetensors").names() == ["x"]


# -- bad input ---------------------------------------------------------------------------------

def test_bad_inputs_raise_one_line_errors(tmp_path):
    with pytest.raises(NotFoundError):
        open_checkpoint(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no .safetensors or .gguf"):
        open_checkpoint(tmp_path / "empty")
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(InputError, match="convert them to safetensors"):
        open_checkpoint(tmp_path / "pickled")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", 5) + b"{nope" + b"\0" * 8)
    with pytest.raises(InputError, match="header is not JSON"):
        open_checkpoint(bad)
    save_numpy({"x": np.ones((64, 64), np.float32)}, str(tmp_path / "trunc.safetensors"))
    data = (tmp_path / "trunc.safetensors").read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(data[:-100])
    with pytest.raises(InputError, match="truncated"):
        open_checkpoint(tmp_path / "trunc.safetensors")
    shard_dir = tmp_path / "shards"
    shard_dir.mkdir()
    (shard_dir / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"x": "gone.safetensors"}}))
    with pytest.raises(InputError, match="shard gone.safetensors is missing"):
        open_checkpoint(shard_dir)
    (tmp_path / "a.gguf").write_bytes(b"GGUF")
    (tmp_path / "b.gguf").write_bytes(b"GGUF")
    (tmp_path / "two").mkdir()
    for n in ("a.gguf", "b.gguf"):
        (tmp_path / "two" / n).write_bytes(b"GGUF")
    with pytest.raises(InputError, match="name one of them"):
        open_checkpoint(tmp_path / "two")
    with pytest.raises(InputError, match="GGUF"):
        open_checkpoint(tmp_path / "a.gguf")
    with pytest.raises(InputError):
        find_candidates([tmp_path / "empty"])


# -- alignment ---------------------------------------------------------------------------------

def _fake(tmp_path: Path, shapes: dict[str, tuple[int, ...]], config: dict | None = None) -> Path:
    folder = tmp_path / f"m{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    save_numpy({k: np.zeros(v, np.float32) for k, v in shapes.items()}, str(folder / "model.safetensors"))
    if config:
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_alignment_across_naming_schemes(tmp_path):
    d, inter = 16, 40
    llama = layout_of(open_checkpoint(_fake(tmp_path, {
        "model.embed_tokens.weight": (100, d), "lm_head.weight": (100, d),
        "model.layers.0.self_attn.q_proj.weight": (d, d), "model.layers.0.self_attn.k_proj.weight": (8, d),
        "model.layers.0.self_attn.v_proj.weight": (8, d), "model.layers.0.self_attn.o_proj.weight": (d, d),
        "model.layers.0.mlp.gate_proj.weight": (inter, d), "model.layers.0.mlp.up_proj.weight": (inter, d),
        "model.layers.0.mlp.down_proj.weight": (d, inter), "model.layers.0.input_layernorm.weight": (d,),
        "model.layers.0.mlp.experts.3.w1.weight": (inter, d),
    }, {"hidden_size": d})))
    gpt2 = layout_of(open_checkpoint(_fake(tmp_path, {
        "transformer.wte.weight": (100, d), "transformer.wpe.weight": (32, d),
        "transformer.h.0.attn.c_attn.weight": (d, 3 * d), "transformer.h.0.attn.c_proj.weight": (d, d),
        "transformer.h.0.mlp.c_fc.weight": (d, inter), "transformer.h.0.mlp.c_proj.weight": (inter, d),
        "transformer.h.0.attn.c_attn.bias": (3 * d,),
    }, {"n_embd": d})))
    neox = layout_of(open_checkpoint(_fake(tmp_path, {
        "gpt_neox.embed_in.weight": (100, d), "embed_out.weight": (100, d),
        "gpt_neox.layers.0.attention.query_key_value.weight": (3 * d, d),
        "gpt_neox.layers.0.attention.dense.weight": (d, d),
        "gpt_neox.layers.0.mlp.dense_h_to_4h.weight": (inter, d), "gpt_neox.layers.0.mlp.dense_4h_to_h.weight": (d, inter),
    })))

    def summary(layout):
        return {g: (sorted(t.part for t in ts), sum(t.n_units for t in ts)) for g, ts in layout.layers[0].items()}

    assert llama.hidden_size == gpt2.hidden_size == neox.hidden_size == d
    assert summary(llama) == {"attn_in": (["k", "q", "v"], d + 16), "attn_out": (["o"], d),
                              "mlp_in": (["gate", "up"], 2 * inter), "mlp_out": (["down"], inter)}
    assert summary(gpt2) == {"attn_in": (["qkv"], 3 * d), "attn_out": (["o"], d),
                             "mlp_in": (["fc_in"], inter), "mlp_out": (["fc_out"], inter)}
    assert summary(neox) == summary(gpt2)
    # Conv1D weights are stored (in, out): the unit axis flips
    c_fc = gpt2.layers[0]["mlp_in"][0]
    assert c_fc.unit_axis == 1 and c_fc.n_units == inter
    assert llama.embed is not None and llama.head is not None and gpt2.head is None
    assert "model.layers.0.mlp.experts.3.w1.weight" in llama.unaligned
    assert "transformer.wpe.weight" in gpt2.unaligned


def test_shape_check_rejects_wrong_hidden_size(tmp_path):
    layout = layout_of(open_checkpoint(_fake(tmp_path, {
        "model.embed_tokens.weight": (100, 16), "model.layers.0.mlp.up_proj.weight": (40, 12),
    }, {"hidden_size": 16})))
    assert layout.shape_mismatch and "up_proj" in layout.shape_mismatch[0]
    assert 0 not in layout.layers


# -- statistics ---------------------------------------------------------------------------------

def test_exact_p_value():
    assert exact_p_value(np.array([1.0, 0.1, 0.2, 0.3])) == pytest.approx(0.25)
    assert exact_p_value(np.array([0.2, 0.1, 0.2, 0.3])) == pytest.approx(0.75)
    assert exact_p_value(np.array([0.5])) == 1.0


def test_permuted_projection_identity():
    rng = np.random.default_rng(1)
    R = rng.standard_normal((10, 4)).astype(np.float32)
    perms = np.stack([np.arange(10), rng.permutation(10), rng.permutation(10)])
    stack = permuted_projections(R, perms)
    x = rng.standard_normal((3, 10)).astype(np.float32)
    for t, perm in enumerate(perms):
        np.testing.assert_allclose(x[:, perm] @ R, x @ stack[:, t, :], rtol=1e-5, atol=1e-5)


def test_matching_is_invariant_to_unit_order():
    rng = np.random.default_rng(2)
    suspect = normalize_rows(rng.standard_normal((300, 32)).astype(np.float32))
    base = suspect[rng.choice(300, 20, replace=False)][None]
    null = normalize_rows(rng.standard_normal((1, 20, 32)).astype(np.float32))
    reps = np.concatenate([base, null])
    a = matched_scores(reps, suspect)
    b = matched_scores(reps, suspect[rng.permutation(300)])
    np.testing.assert_allclose(a, b, rtol=1e-6)
    assert a[0] == pytest.approx(1.0, abs=1e-5) and a[1] < 0.8


def _random_gpt2(folder: Path, seed: int, noise_of: Path | None = None) -> Path:
    """A tiny GPT-2 (Conv1D weights, tied embeddings): random init, or a noisy copy of another one."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=300, n_positions=32, n_embd=64, n_layer=2, n_head=4))
    if noise_of is not None:
        model = GPT2LMHeadModel.from_pretrained(noise_of)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * p.std() * 0.5)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def test_gpt2_naming_end_to_end(tmp_path):
    base = _random_gpt2(tmp_path / "base", 0)
    noisy = _random_gpt2(tmp_path / "noisy", 0, noise_of=base)
    other = _random_gpt2(tmp_path / "other", 1)
    derived = compare(base, noisy, OPTS)
    assert derived.verdict == "derived" and derived.statistic > 0.8
    indep = compare(base, other, OPTS)
    assert indep.verdict in ("independent", "inconclusive") and indep.p_value > OPTS.alpha


def test_null_p_values_are_not_anticonservative(tmp_path):
    """Independent random models: the exact test rejects at about its nominal rate, never wildly more."""
    from safetensors.numpy import save_file

    d, inter, layers = 32, 64, 2
    folders = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        tensors = {"model.embed_tokens.weight": rng.standard_normal((50, d)).astype(np.float32)}
        for i in range(layers):
            p = f"model.layers.{i}."
            tensors[p + "self_attn.q_proj.weight"] = rng.standard_normal((d, d)).astype(np.float32)
            tensors[p + "self_attn.o_proj.weight"] = rng.standard_normal((d, d)).astype(np.float32)
            tensors[p + "mlp.up_proj.weight"] = rng.standard_normal((inter, d)).astype(np.float32)
            tensors[p + "mlp.down_proj.weight"] = rng.standard_normal((d, inter)).astype(np.float32)
        folder = tmp_path / f"r{seed}"
        folder.mkdir()
        save_file(tensors, str(folder / "model.safetensors"))
        folders.append(folder)
    opts = CompareOptions(threads=1, permutations=39, alpha=0.05, units=16, direct=False)
    ps = [compare(folders[i], folders[i + 1], opts).p_value for i in range(0, 12, 2)]
    ps += [compare(folders[i], folders[i + 3], opts).p_value for i in range(0, 9, 3)]
    assert sum(p <= 0.05 for p in ps) <= 2, ps
    assert max(ps) > 0.3, ps
