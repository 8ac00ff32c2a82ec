"""Weight provenance on a family of small Llama-style models (3.4M parameters) trained with torch.

The family is built once per session (real AdamW training steps on synthetic Markov-chain
text, about a minute on a loaded 2-core machine). Every member is saved with
``save_pretrained(safe_serialization=True)`` into its own folder:

* ``base``            - random init (seed 0), trained on synthetic Markov-chain text A
* ``finetune``        - base, further trained on text B
* ``finetune2``       - base, further trained on text C
* ``merge``           - 50/50 average of finetune and finetune2
* ``permuted``        - finetune with MLP hidden units, attention heads (kv groups and the
                        query heads inside each group) permuted: same function, other tensors
* ``int8``            - base quantized to int8 per output row (absmax) and dequantized
* ``pruned``          - base with 40% of each weight matrix zeroed by magnitude
* ``extended_vocab``  - finetune with 64 new tokens appended to the vocabulary
* ``indep_init``      - fresh random init (seed 1), untrained
* ``indep_trained``   - fresh random init (seed 2), trained on the same text A as base
* ``base_bf16``       - base saved in bfloat16
* ``base_sharded``    - base saved in shards with ``model.safetensors.index.json``
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from railtrack.provenance import CompareOptions, compare, open_checkpoint, scan

VOCAB = 1024
SEQ = 32
BATCH = 8


def config():
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=VOCAB, hidden_size=256, intermediate_size=704, num_hidden_layers=4,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=SEQ,
                       tie_word_embeddings=False, rms_norm_eps=1e-5)


def new_model(seed: int):
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    model = LlamaForCausalLM(config())
    model.eval()
    return model


class MarkovText:
    """Synthetic language: a sparse random bigram chain whose successors come from a small token subset."""

    def __init__(self, seed: int, branching: int = 4, active: int = 64) -> None:
        g = torch.Generator().manual_seed(seed)
        subset = torch.randperm(VOCAB, generator=g)[:active]
        self.next = subset[torch.randint(0, active, (VOCAB, branching), generator=g)]
        self.g = g

    def batch(self) -> torch.Tensor:
        tok = torch.randint(0, VOCAB, (BATCH,), generator=self.g)
        out = [tok]
        for _ in range(SEQ - 1):
            pick = torch.randint(0, self.next.shape[1], (BATCH,), generator=self.g)
            tok = self.next[tok, pick]
            out.append(tok)
        return torch.stack(out, dim=1)


def train(model, text: MarkovText, steps: int, lr: float) -> list[float]:
    """Real AdamW training steps on next-token prediction; returns the losses."""
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    losses = []
    for _ in range(steps):
        ids = text.batch()
        loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses


def permute_units(model, seed: int = 7):
    """A function-preserving permutation of MLP hidden units and attention heads, per layer."""
    cfg = model.config
    hd = cfg.hidden_size // cfg.num_attention_heads
    n_kv = cfg.num_key_value_heads
    per_group = cfg.num_attention_heads // n_kv
    g = torch.Generator().manual_seed(seed)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        mlp = torch.randperm(cfg.intermediate_size, generator=g)
        sd[p + "mlp.gate_proj.weight"] = sd[p + "mlp.gate_proj.weight"][mlp]
        sd[p + "mlp.up_proj.weight"] = sd[p + "mlp.up_proj.weight"][mlp]
        sd[p + "mlp.down_proj.weight"] = sd[p + "mlp.down_proj.weight"][:, mlp]
        kv = torch.randperm(n_kv, generator=g)
        q_heads = torch.cat([kv[j] * per_group + torch.randperm(per_group, generator=g) for j in range(n_kv)])
        q_rows = torch.cat([torch.arange(h * hd, (h + 1) * hd) for h in q_heads])
        kv_rows = torch.cat([torch.arange(h * hd, (h + 1) * hd) for h in kv])
        sd[p + "self_attn.q_proj.weight"] = sd[p + "self_attn.q_proj.weight"][q_rows]
        sd[p + "self_attn.k_proj.weight"] = sd[p + "self_attn.k_proj.weight"][kv_rows]
        sd[p + "self_attn.v_proj.weight"] = sd[p + "self_attn.v_proj.weight"][kv_rows]
        sd[p + "self_attn.o_proj.weight"] = sd[p + "self_attn.o_proj.weight"][:, q_rows]
    out = copy.deepcopy(model)
    out.load_state_dict(sd)
    return out


def _matrices(model):
    return [(n, p) for n, p in model.named_parameters() if p.ndim == 2]


def int8_roundtrip(model):
    out = copy.deepcopy(model)
    with torch.no_grad():
        for _, p in _matrices(out):
            scale = p.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0
            p.copy_(torch.round(p / scale).clamp(-127, 127) * scale)
    return out


def magnitude_prune(model, fraction: float = 0.4):
    out = copy.deepcopy(model)
    with torch.no_grad():
        for _, p in _matrices(out):
            k = int(fraction * p.numel())
            threshold = p.abs().flatten().kthvalue(k).values
            p.mul_((p.abs() > threshold).to(p.dtype))
    return out


def average(a, b):
    out = copy.deepcopy(a)
    sb = b.state_dict()
    out.load_state_dict({k: 0.5 * (v + sb[k]) for k, v in a.state_dict().items()})
    return out


def build_family(root: Path) -> tuple[dict[str, Path], dict]:
    """Train and save the whole family under ``root``; returns (name -> folder, name -> model or losses)."""
    text_a, text_b, text_c = MarkovText(100), MarkovText(200), MarkovText(300)
    models = {}
    base = new_model(0)
    models["base_losses"] = train(base, text_a, steps=40, lr=3e-3)
    models["base"] = base
    ft = copy.deepcopy(base)
    models["finetune_losses"] = train(ft, text_b, steps=15, lr=1e-3)
    models["finetune"] = ft
    ft2 = copy.deepcopy(base)
    train(ft2, text_c, steps=15, lr=1e-3)
    models["finetune2"] = ft2
    models["merge"] = average(ft, ft2)
    models["permuted"] = permute_units(ft)
    models["int8"] = int8_roundtrip(base)
    models["pruned"] = magnitude_prune(base, 0.4)
    ext = copy.deepcopy(ft)
    ext.resize_token_embeddings(VOCAB + 64)
    models["extended_vocab"] = ext
    models["indep_init"] = new_model(1)
    indep = new_model(2)
    models["indep_losses"] = train(indep, MarkovText(100), steps=40, lr=3e-3)
    models["indep_trained"] = indep
    paths: dict[str, Path] = {}
    for name, model in models.items():
        if name.endswith("_losses"):
            continue
        folder = root / name
        model.save_pretrained(folder, safe_serialization=True)
        paths[name] = folder
    copy.deepcopy(base).to(torch.bfloat16).save_pretrained(root / "base_bf16", safe_serialization=True)
    paths["base_bf16"] = root / "base_bf16"
    base.save_pretrained(root / "base_sharded", safe_serialization=True, max_shard_size="1MB")
    paths["base_sharded"] = root / "base_sharded"
    return paths, models


# -- GGUF export in llama.cpp's layout ------------------------------------------------------

def _rope_rows(w: np.ndarray, n_heads: int) -> np.ndarray:
    """llama.cpp's converter reorders q/k rows inside each head (rotary halves -> interleaved)."""
    rows = w.shape[0]
    return w.reshape(n_heads, 2, rows // n_heads // 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)


def export_gguf(model, path: Path) -> Path:
    """Write ``model`` as GGUF with llama.cpp tensor names: F32 embeddings, F16 attention, Q8_0 MLP."""
    import gguf
    import gguf.quants

    cfg = model.config
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(cfg.num_hidden_layers)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    w.add_tensor("output.weight", sd["lm_head.weight"])
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        w.add_tensor(f"blk.{i}.attn_norm.weight", sd[p + "input_layernorm.weight"])
        w.add_tensor(f"blk.{i}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
        q = _rope_rows(sd[p + "self_attn.q_proj.weight"], cfg.num_attention_heads)
        k = _rope_rows(sd[p + "self_attn.k_proj.weight"], cfg.num_key_value_heads)
        for name, arr in (("attn_q", q), ("attn_k", k), ("attn_v", sd[p + "self_attn.v_proj.weight"]),
                          ("attn_output", sd[p + "self_attn.o_proj.weight"])):
            w.add_tensor(f"blk.{i}.{name}.weight", arr.astype(np.float16))
        for name, key in (("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"), ("ffn_down", "mlp.down_proj")):
            q8 = gguf.quants.quantize(sd[p + key + ".weight"], gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(f"blk.{i}.{name}.weight", q8, raw_shape=q8.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# -- fixtures -------------------------------------------------------------------------------

OPTS = CompareOptions(threads=1)


@pytest.fixture(scope="session")
def family(tmp_path_factory):
    """The trained model family (built once per session, single-threaded: fastest on a shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        root = tmp_path_factory.mktemp("provenance-family")
        paths, models = build_family(root)
        paths["gguf"] = export_gguf(models["base"], root / "base.gguf")
    finally:
        torch.set_num_threads(threads)
    return {"paths": paths, "models": models, "root": root}


@pytest.fixture(scope="session")
def results(family):
    """base compared with every other member, through one base profile (the scan path)."""
    paths = family["paths"]
    names = ["finetune", "permuted", "int8", "pruned", "merge", "extended_vocab", "indep_init", "indep_trained",
             "base_bf16", "base_sharded", "gguf"]
    out = scan(paths["base"], [paths[n] for n in names], OPTS)
    return dict(zip(names, out))


# -- the family is what it claims to be -------------------------------------------------------

def test_training_is_real(family):
    models = family["models"]
    for key in ("base_losses", "indep_losses"):
        losses = models[key]
        assert len(losses) == 40
        assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.1, key
    assert not torch.equal(models["finetune"].lm_head.weight, models["base"].lm_head.weight)


def test_permuted_copy_computes_the_same_function(family):
    models = family["models"]
    ids = torch.randint(0, VOCAB, (2, 16), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        a = models["finetune"](input_ids=ids).logits
        b = models["permuted"](input_ids=ids).logits
    assert torch.allclose(a, b, atol=1e-4)
    wa = models["finetune"].model.layers[0].mlp.gate_proj.weight
    wb = models["permuted"].model.layers[0].mlp.gate_proj.weight
    assert not torch.allclose(wa, wb)


def test_pruned_copy_has_zeros(family):
    w = family["models"]["pruned"].model.layers[1].mlp.up_proj.weight
    assert 0.39 <= float((w == 0).float().mean()) <= 0.41


# -- verdicts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["finetune", "permuted", "int8", "pruned", "merge", "extended_vocab"])
def test_derived_copies_are_derived(results, name):
    r = results[name]
    assert r.verdict == "derived", r.to_dict()
    assert r.p_value == pytest.approx(1 / (OPTS.permutations + 1))
    assert r.statistic > 0.9
    assert r.z > 20
    layer_rows = [row for row in r.layers if row.layer.isdigit()]
    assert len(layer_rows) == 4 and all(row.agrees for row in layer_rows)


@pytest.mark.parametrize("name", ["indep_init", "indep_trained"])
def test_independent_models_are_independent(results, name):
    r = results[name]
    assert r.verdict == "independent", r.to_dict()
    assert r.p_value > 0.05
    assert abs(r.statistic - r.null_mean) < 0.02
    assert abs(r.z) < 3


def test_permutation_defeats_plain_cosine_but_not_the_test(results):
    plain = [row.direct_cosine for row in results["permuted"].layers if row.layer.isdigit()]
    same = [row.direct_cosine for row in results["finetune"].layers if row.layer.isdigit()]
    assert min(same) > 0.9
    assert np.mean(np.abs(plain)) < 0.3
    assert results["permuted"].statistic == pytest.approx(results["finetune"].statistic, abs=1e-6)


def test_extended_vocabulary_compares_shared_token_ids(results):
    r = results["extended_vocab"]
    embed = next(row for row in r.layers if row.layer == "embed")
    assert embed.units["tokens"] == (VOCAB, VOCAB + 64)
    assert embed.groups["tokens"] > 0.9
    assert r.to_dict()["token_alignment"] == "shared token ids"


def test_grouped_query_attention_unit_counts(results):
    row = next(row for row in results["finetune"].layers if row.layer == "0")
    # q: 4 heads x 64 rows, k and v: 2 kv heads x 64 rows each
    assert row.units["attn_in"] == (256 + 128 + 128, 256 + 128 + 128)
    assert row.units["mlp_in"] == (2 * 704, 2 * 704)
    assert row.units["mlp_out"] == (704, 704)


# -- loading -----------------------------------------------------------------------------------

def test_bf16_loads_exactly(family, results):
    torch_bf16 = copy.deepcopy(family["models"]["base"]).to(torch.bfloat16).state_dict()
    ck = open_checkpoint(family["paths"]["base_bf16"])
    for name in ("model.embed_tokens.weight", "model.layers.2.mlp.down_proj.weight", "model.norm.weight"):
        assert ck.info(name).dtype == "BF16"
        ours = ck.read(name)
        ref = torch_bf16[name].float().numpy()
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours, ref)
        np.testing.assert_array_equal(ck.read(name, 3, 7), ref[3:7])
        np.testing.assert_array_equal(ck.take(name, np.array([0, 5, 2])), ref[[0, 5, 2]])
    assert results["base_bf16"].verdict == "derived"
    assert results["base_bf16"].statistic > 0.99


def test_sharded_checkpoint_loads(family, results):
    folder = family["paths"]["base_sharded"]
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    sharded, single = open_checkpoint(folder), open_checkpoint(family["paths"]["base"])
    assert sorted(sharded.names()) == sorted(single.names())
    assert len({t.file for t in sharded.tensors.values()}) > 1
    sd = family["models"]["base"].state_dict()
    for name in sharded.names():
        np.testing.assert_array_equal(sharded.read(name), sd[name].numpy())
    assert results["base_sharded"].statistic == pytest.approx(1.0, abs=1e-5)


def test_gguf_with_llama_cpp_names_and_quantization(family, results):
    ck = open_checkpoint(family["paths"]["gguf"])
    assert ck.format == "gguf" and ck.hidden_size == 256
    assert ck.info("blk.0.ffn_up.weight").dtype == "GGUF:Q8_0"
    up = ck.read("blk.0.ffn_up.weight")
    ref = family["models"]["base"].model.layers[0].mlp.up_proj.weight.detach().numpy()
    assert up.shape == ref.shape
    assert np.abs(up - ref).max() < 0.01 * np.abs(ref).max()
    np.testing.assert_array_equal(ck.read("token_embd.weight"),
                                  family["models"]["base"].model.embed_tokens.weight.detach().numpy())
    r = results["gguf"]
    assert r.verdict == "derived" and r.statistic > 0.95
    # q/k rows were reordered inside heads, so the plain cosine of attention is not 1, the matching is
    row = next(row for row in r.layers if row.layer == "1")
    assert row.groups["attn_in"] > 0.99


def test_gguf_suspect_against_independent_base(family):
    r = compare(family["paths"]["indep_trained"], family["paths"]["gguf"], OPTS)
    assert r.verdict == "independent", r.to_dict()


def test_tokenizer_vocab_alignment_survives_reordered_vocabulary(family, tmp_path):
    """Suspect with a shuffled vocabulary: token rows are paired through tokenizer.json strings."""
    base_dir = tmp_path / "base"
    shutil.copytree(family["paths"]["finetune"], base_dir)
    model = copy.deepcopy(family["models"]["finetune"])
    order = torch.randperm(VOCAB, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        model.model.embed_tokens.weight.copy_(model.model.embed_tokens.weight[order])
        model.lm_head.weight.copy_(model.lm_head.weight[order])
    sus_dir = tmp_path / "suspect"
    model.save_pretrained(sus_dir, safe_serialization=True)
    tokens = [f"tok{i}" for i in range(VOCAB)]

    def write_tokenizer(folder, ids):
        (folder / "tokenizer.json").write_text(json.dumps({"model": {"type": "WordLevel", "vocab": ids}}))

    write_tokenizer(base_dir, {t: i for i, t in enumerate(tokens)})
    # new id j holds old token order[j]
    write_tokenizer(sus_dir, {tokens[int(old)]: j for j, old in enumerate(order)})
    r = compare(base_dir, sus_dir, OPTS)
    embed = next(row for row in r.layers if row.layer == "embed")
    assert r.to_dict()["token_alignment"] == "tokenizer vocabulary"
    assert embed.groups["tokens"] > 0.99
    assert r.verdict == "derived"


# -- CLI ---------------------------------------------------------------------------------------

def test_cli_compare_json_and_exit_codes(family, cli):
    p = family["paths"]
    res = cli("provenance", "compare", p["base"], p["pruned"], "--json", "--threads", "1")
    assert res.code == 1, res
    data = json.loads(res.out)
    assert {"verdict", "p_value", "statistic", "layers"} <= set(data)
    assert data["verdict"] == "derived"
    assert len(data["layers"]) == 6 and {"layer", "p_value", "agrees", "groups"} <= set(data["layers"][0])
    res = cli("provenance", "compare", p["base"], p["indep_trained"], "--json", "--threads", "1")
    assert res.code == 0, res
    assert json.loads(res.out)["verdict"] == "independent"


def test_cli_compare_table(family, cli):
    p = family["paths"]
    res = cli("provenance", "compare", p["base"], p["permuted"], "--threads", "1", "--permutations", "49",
              "--alpha", "0.02")
    assert res.code == 1, res
    assert "where the weights agree" in res.out
    assert "derived" in res.out and "plain" in res.out and "agree" in res.out


def test_cli_scan_folder_of_candidates(family, cli, tmp_path):
    p = family["paths"]
    folder = tmp_path / "downloads"
    folder.mkdir()
    for name in ("int8", "indep_init"):
        shutil.copytree(p[name], folder / name)
    (folder / "notes.txt").write_text("not a model")
    broken = folder / "broken"
    broken.mkdir()
    (broken / "model.safetensors").write_bytes(b"\x00" * 4)
    res = cli("provenance", "scan", p["base"], folder, "--json", "--threads", "1")
    assert res.code == 1, res
    data = json.loads(res.out)
    verdicts = {Path(c["suspect"]).name: c["verdict"] for c in data["candidates"]}
    assert verdicts == {"int8": "derived", "indep_init": "independent", "broken": "inconclusive"}
    broken_row = next(c for c in data["candidates"] if c["suspect"].endswith("broken"))
    assert "not a safetensors file" in broken_row["reason"]


def test_cli_errors_are_one_line_exit_2(family, cli, tmp_path):
    res = cli("provenance", "compare", tmp_path / "missing", family["paths"]["base"])
    assert res.code == 2 and res.err.startswith("railtrack: error:") and res.err.count("\n") == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    res = cli("provenance", "compare", family["paths"]["base"], empty)
    assert res.code == 2 and "no .safetensors or .gguf weights" in res.err
    res = cli("provenance", "compare", family["paths"]["base"], family["paths"]["int8"], "--permutations", "5")
    assert res.code == 2 and "permutations" in res.err


def test_hidden_size_mismatch_is_inconclusive(family, tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    small = LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=SEQ))
    small.save_pretrained(tmp_path / "small", safe_serialization=True)
    r = compare(family["paths"]["base"], tmp_path / "small", OPTS)
    assert r.verdict == "inconclusive" and "hidden sizes differ" in r.reason


def test_cli_output_file_is_the_json_report(family, cli, tmp_path):
    p = family["paths"]
    out = tmp_path / "evidence.json"
    res = cli("provenance", "compare", p["base"], p["merge"], "--threads", "1", "--no-direct", "-o", out)
    assert res.code == 1, res
    report = json.loads(out.read_text())
    assert report["verdict"] == "derived" and report["suspect"].endswith("merge")
    assert all(row["direct_cosine"] is None for row in report["layers"])
    res = cli("provenance", "compare", p["base"], p["merge"], "--threads", "1", "-o", tmp_path / "no" / "x.json")
    assert res.code == 2 and "does not exist" in res.err


def test_repeated_kv_heads_suspect_is_derived(family, tmp_path):
    """GQA -> MHA conversion (k/v heads repeated for every query head) changes shapes, not the verdict."""
    from transformers import LlamaForCausalLM

    src = family["models"]["finetune"]
    cfg = copy.deepcopy(src.config)
    groups = cfg.num_attention_heads // cfg.num_key_value_heads
    hd = cfg.hidden_size // cfg.num_attention_heads
    cfg.num_key_value_heads = cfg.num_attention_heads
    mha = LlamaForCausalLM(cfg)
    sd = src.state_dict()
    for i in range(cfg.num_hidden_layers):
        for part in ("k_proj", "v_proj"):
            key = f"model.layers.{i}.self_attn.{part}.weight"
            w = sd[key].reshape(-1, hd, cfg.hidden_size)
            sd[key] = w.repeat_interleave(groups, dim=0).reshape(-1, cfg.hidden_size)
    mha.load_state_dict(sd)
    ids = torch.randint(0, VOCAB, (1, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(mha(input_ids=ids).logits, src(input_ids=ids).logits, atol=1e-4)
    mha.save_pretrained(tmp_path / "mha", safe_serialization=True)
    r = compare(family["paths"]["base"], tmp_path / "mha", OPTS)
    assert r.verdict == "derived"
    row = next(row for row in r.layers if row.layer == "2")
    assert row.units["attn_in"] == (512, 768)
    assert row.groups["attn_in"] > 0.9


def test_cli_inspect_shows_alignment(family, cli):
    res = cli("provenance", "inspect", family["paths"]["gguf"], "--json")
    assert res.code == 0, res
    info = json.loads(res.out)
    assert info["format"] == "gguf" and info["hidden_size"] == 256 and info["layers"] == 4
    assert info["groups"]["attn_in"] == {"layers": 4, "units_per_layer": [512], "parts": ["k", "q", "v"]}
    assert info["groups"]["mlp_in"]["units_per_layer"] == [2 * 704]
    assert info["output_head"]["name"] == "output.weight"
    assert info["dtypes"] == {"GGUF:F32": 11, "GGUF:F16": 16, "GGUF:Q8_0": 12}
    res = cli("provenance", "inspect", family["paths"]["base_sharded"])
    assert res.code == 0 and "mlp_out" in res.out and "safetensors" in res.out


# -- residual-stream permutation ---------------------------------------------------------------

def permute_residual(model, seed: int = 11):
    """A function-preserving signed permutation of the residual-stream (hidden-size) coordinates.

    Applied consistently to the embedding columns, every RMSNorm weight, the input columns of
    q/k/v/gate/up, the output rows of o/down and the columns of the output head. RMSNorm's
    root-mean-square is unchanged by permuting and negating coordinates, so the logits are.
    """
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(cfg.hidden_size, generator=g)
    sign = torch.where(torch.rand(cfg.hidden_size, generator=g) < 0.5, -1.0, 1.0)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    for key, w in sd.items():
        if key.endswith("norm.weight"):
            sd[key] = w[perm]  # the norm's scale follows its coordinate; the sign passes through
        elif key.endswith(("embed_tokens.weight", "lm_head.weight", "q_proj.weight", "k_proj.weight",
                           "v_proj.weight", "gate_proj.weight", "up_proj.weight")):
            sd[key] = w[:, perm] * sign[None, :]  # reads (or writes, for embed) the residual stream
        elif key.endswith(("o_proj.weight", "down_proj.weight")):
            sd[key] = w[perm] * sign[:, None]  # writes the residual stream
    out = copy.deepcopy(model)
    out.load_state_dict(sd)
    return out


def test_residual_permuted_copy_is_derived(family, results, tmp_path, cli):
    src = family["models"]["finetune"]
    model = permute_residual(permute_units(src))
    ids = torch.randint(0, VOCAB, (2, 16), generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, src(input_ids=ids).logits, atol=1e-4)
    assert not torch.allclose(model.model.embed_tokens.weight, src.model.embed_tokens.weight)
    model.save_pretrained(tmp_path / "resperm", safe_serialization=True)

    r = compare(family["paths"]["base"], tmp_path / "resperm", OPTS)
    data = r.to_dict()
    assert r.verdict == "derived", data
    assert r.p_value == pytest.approx(1 / (OPTS.permutations + 1))
    res = data["residual_permutation"]
    assert res["detected"] is True
    assert res["moved_coordinates"] > 240 and 90 < res["sign_flips"] < 170
    assert res["p_aligned"] == pytest.approx(0.01) and res["p_unaligned"] > 0.05
    assert r.statistic > 0.9 and r.z > 20
    layer_rows = [row for row in r.layers if row.layer.isdigit()]
    assert len(layer_rows) == 4 and all(row.agrees and row.residual_aligned for row in layer_rows)
    head = next(row for row in r.layers if row.layer == "head")
    assert head.residual_aligned and head.agrees
    # the plain cosine sees nothing
    assert np.mean(np.abs([row.direct_cosine for row in layer_rows])) < 0.2

    # derived copies without a residual permutation are tested as before
    for name in ("finetune", "permuted", "int8", "pruned", "merge", "extended_vocab"):
        assert results[name].to_dict()["residual_permutation"]["detected"] is False, name
    # independent models: no alignment found, and the alignment does not manufacture evidence
    for name in ("indep_init", "indep_trained"):
        rep = results[name].to_dict()["residual_permutation"]
        assert rep["detected"] is False, rep
    for name in ("indep_init", "indep_trained"):
        other = compare(family["paths"][name], tmp_path / "resperm", OPTS)
        assert other.verdict == "independent", other.to_dict()

    res = cli("provenance", "compare", family["paths"]["base"], tmp_path / "resperm", "--threads", "1")
    assert res.code == 1, res
    assert "residual permutation detected" in res.out and "derived" in res.out


def test_coordinate_matching_recovers_a_signed_permutation():
    from railtrack.provenance.stats import aligned_projection, match_coordinates, max_z_combine, projection

    rng = np.random.default_rng(0)
    n, d = 512, 300
    base = rng.standard_normal((n, d)).astype(np.float32)
    perm, sign = rng.permutation(d), np.where(rng.random(d) < 0.5, -1.0, 1.0).astype(np.float32)
    # suspect coordinate perm[i] holds sign[i] * (base coordinate i + noise)
    suspect = np.empty_like(base)
    suspect[:, perm] = (base + 0.5 * rng.standard_normal((n, d)).astype(np.float32)) * sign
    m = match_coordinates(base, suspect)
    np.testing.assert_array_equal(m["perm"], perm)
    np.testing.assert_array_equal(m["sign"], sign)
    assert m["matched"] > 0.8 and abs(m["identity"]) < 0.05
    # unrelated matrices: no one-to-one matching is claimed
    assert match_coordinates(base, rng.standard_normal((n, d)).astype(np.float32))["perm"] is None
    # projecting a suspect unit with R_a equals projecting its base-aligned version with R
    R = projection(d, 32, rng)
    x = rng.standard_normal(d).astype(np.float32)
    np.testing.assert_allclose(x @ aligned_projection(R, perm, sign), (sign * x[perm]) @ R, rtol=1e-4, atol=1e-5)
    # one clear winner in either statistic gives the smallest p-value; ties in rank do not
    null = rng.standard_normal(100)
    combined = max_z_combine(np.r_[50.0, null[1:]], null)
    assert combined.argmax() == 0 and np.sum(combined >= combined[0]) == 1
