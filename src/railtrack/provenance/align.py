"""Tensor name alignment between architectures that name (and orient) weights differently.

Every recognised weight matrix gets a canonical key ``(layer, part)`` - e.g. HF Llama
``model.layers.3.self_attn.q_proj.weight``, GGUF ``blk.3.attn_q.weight`` and Meta's
``layers.3.attention.wq.weight`` all become ``(3, "q")`` - and belongs to one of four
*unit groups* per layer:

``attn_in``  rows that read the residual stream into attention (q, k, v, fused qkv)
``attn_out`` columns that write attention output back to the residual stream (o)
``mlp_in``   rows that read the residual stream into the MLP (gate, up, fused gate_up, fc_in)
``mlp_out``  columns that write the MLP output back (down, fc_out)

A *unit* is one vector in residual-stream coordinates (length = hidden size ``d``): a row
of an input projection or a column of an output projection. Permuting MLP hidden units or
attention heads (or the rows inside a head, as llama.cpp's converter does for rotary q/k)
only reorders units inside a group, so a statistic built from unit matching within groups
is unaffected by such permutations. Embedding and output-head rows are indexed by token id
and are compared token by token.

GPT-2 style ``Conv1D`` weights (``c_attn``, ``c_proj``, ``c_fc``) are stored transposed
(in, out); alignment records that, and a shape check against ``d`` catches the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .loading import Checkpoint

__all__ = ["AlignedTensor", "Layout", "GROUPS", "layout_of", "describe"]

GROUPS: tuple[str, ...] = ("attn_in", "attn_out", "mlp_in", "mlp_out")

_LAYER_RE = re.compile(r"(?:^|\.)(?:layers|layer|h|blocks|blk|block|decoder\.layers)\.(\d+)\.(.+)$")

# suffix after the layer index -> (part, group, stored transposed (Conv1D))
_LAYER_PARTS: list[tuple[re.Pattern[str], str, str, bool]] = [
    (re.compile(p), part, group, conv)
    for p, part, group, conv in [
        # Llama / Mistral / Qwen / Gemma / Phi-3 (HF)
        (r"^self_attn\.q_proj\.weight$", "q", "attn_in", False),
        (r"^self_attn\.k_proj\.weight$", "k", "attn_in", False),
        (r"^self_attn\.v_proj\.weight$", "v", "attn_in", False),
        (r"^self_attn\.qkv_proj\.weight$", "qkv", "attn_in", False),
        (r"^self_attn\.(?:o_proj|dense|out_proj)\.weight$", "o", "attn_out", False),
        (r"^mlp\.gate_proj\.weight$", "gate", "mlp_in", False),
        (r"^mlp\.up_proj\.weight$", "up", "mlp_in", False),
        (r"^mlp\.gate_up_proj\.weight$", "gate_up", "mlp_in", False),
        (r"^mlp\.down_proj\.weight$", "down", "mlp_out", False),
        # GGUF (llama.cpp)
        (r"^attn_q\.weight$", "q", "attn_in", False),
        (r"^attn_k\.weight$", "k", "attn_in", False),
        (r"^attn_v\.weight$", "v", "attn_in", False),
        (r"^attn_qkv\.weight$", "qkv", "attn_in", False),
        (r"^attn_output\.weight$", "o", "attn_out", False),
        (r"^ffn_gate\.weight$", "gate", "mlp_in", False),
        (r"^ffn_up\.weight$", "up", "mlp_in", False),
        (r"^ffn_down\.weight$", "down", "mlp_out", False),
        # Meta original checkpoints
        (r"^attention\.wq\.weight$", "q", "attn_in", False),
        (r"^attention\.wk\.weight$", "k", "attn_in", False),
        (r"^attention\.wv\.weight$", "v", "attn_in", False),
        (r"^attention\.wo\.weight$", "o", "attn_out", False),
        (r"^feed_forward\.w1\.weight$", "gate", "mlp_in", False),
        (r"^feed_forward\.w3\.weight$", "up", "mlp_in", False),
        (r"^feed_forward\.w2\.weight$", "down", "mlp_out", False),
        # GPT-2 (Conv1D, stored in x out)
        (r"^attn\.c_attn\.weight$", "qkv", "attn_in", True),
        (r"^attn\.c_proj\.weight$", "o", "attn_out", True),
        (r"^mlp\.c_fc\.weight$", "fc_in", "mlp_in", True),
        (r"^mlp\.c_proj\.weight$", "fc_out", "mlp_out", True),
        # GPT-NeoX / Pythia, BLOOM, Falcon
        (r"^(?:attention|self_attention)\.query_key_value\.weight$", "qkv", "attn_in", False),
        (r"^(?:attention|self_attention)\.dense\.weight$", "o", "attn_out", False),
        (r"^mlp\.dense_h_to_4h\.weight$", "fc_in", "mlp_in", False),
        (r"^mlp\.dense_4h_to_h\.weight$", "fc_out", "mlp_out", False),
        # GPT-J, Phi-1/2, OPT-like
        (r"^attn\.(?:q_proj)\.weight$", "q", "attn_in", False),
        (r"^attn\.(?:k_proj)\.weight$", "k", "attn_in", False),
        (r"^attn\.(?:v_proj)\.weight$", "v", "attn_in", False),
        (r"^attn\.out_proj\.weight$", "o", "attn_out", False),
        (r"^mlp\.(?:fc_in|fc1)\.weight$", "fc_in", "mlp_in", False),
        (r"^mlp\.(?:fc_out|fc2)\.weight$", "fc_out", "mlp_out", False),
    ]
]

_EMBED_RE = re.compile(r"(?:^|\.)(?:embed_tokens|wte|embed_in|word_embeddings|tok_embeddings)\.weight$|^token_embd\.weight$")
_HEAD_RE = re.compile(r"^(?:lm_head|embed_out|output)\.weight$|(?:^|\.)lm_head\.weight$")
_SKIP_PREFIX_RE = re.compile(r"(?:^|\.)(?:vision_tower|vision_model|visual|audio_tower|multi_modal_projector|mm_projector)\.")


@dataclass(frozen=True)
class AlignedTensor:
    """A stored tensor with its canonical place: ``layer`` (None for global), ``part``, ``group``.

    ``unit_axis`` is the stored axis that indexes units (0: rows are units, 1: columns are);
    the other axis has length ``d``.
    """

    name: str
    layer: int | None
    part: str
    group: str
    unit_axis: int
    shape: tuple[int, ...]

    @property
    def n_units(self) -> int:
        return int(self.shape[self.unit_axis])

    @property
    def key(self) -> str:
        return f"{self.layer}.{self.part}" if self.layer is not None else self.part


@dataclass
class Layout:
    """All aligned tensors of one checkpoint, plus what could not be aligned."""

    hidden_size: int | None
    layers: dict[int, dict[str, list[AlignedTensor]]]
    embed: AlignedTensor | None
    head: AlignedTensor | None
    unaligned: list[str]
    shape_mismatch: list[str]

    @property
    def n_layers(self) -> int:
        return (max(self.layers) + 1) if self.layers else 0

    def by_key(self) -> dict[str, AlignedTensor]:
        out: dict[str, AlignedTensor] = {}
        for groups in self.layers.values():
            for tensors in groups.values():
                for t in tensors:
                    out[t.key] = t
        for t in (self.embed, self.head):
            if t is not None:
                out[t.key] = t
        return out


def _infer_hidden_size(ck: Checkpoint) -> int | None:
    d = ck.hidden_size
    if d:
        return d
    for name, info in ck.tensors.items():
        if _EMBED_RE.search(name) and len(info.shape) == 2:
            return int(info.shape[1])
    return None


def layout_of(ck: Checkpoint) -> Layout:
    """Align every weight matrix of ``ck`` to its canonical key and unit group, with shape checks."""
    d = _infer_hidden_size(ck)
    layers: dict[int, dict[str, list[AlignedTensor]]] = {}
    embed = head = None
    unaligned: list[str] = []
    mismatch: list[str] = []
    for name, info in ck.tensors.items():
        if _SKIP_PREFIX_RE.search(name):
            unaligned.append(name)
            continue
        shape = tuple(int(s) for s in info.shape)
        if _EMBED_RE.search(name) and len(shape) == 2:
            if d is not None and shape[1] != d:
                mismatch.append(f"{name} {shape}: expected (*, {d})")
                continue
            embed = AlignedTensor(name, None, "embed", "embed", 0, shape)
            continue
        if _HEAD_RE.search(name) and len(shape) == 2:
            if d is not None and shape[1] != d:
                mismatch.append(f"{name} {shape}: expected (*, {d})")
                continue
            head = AlignedTensor(name, None, "head", "head", 0, shape)
            continue
        m = _LAYER_RE.search(name)
        if not m or len(shape) != 2 or not info.floating:
            if len(shape) == 2 or not (name.endswith(".bias") or "norm" in name):
                unaligned.append(name)
            continue
        layer, suffix = int(m.group(1)), m.group(2)
        for pattern, part, group, conv in _LAYER_PARTS:
            if not pattern.search(suffix):
                continue
            reads = group.endswith("_in")
            # torch Linear stores (out, in): input projections have units on rows
            unit_axis = 0 if reads else 1
            if conv:
                unit_axis = 1 - unit_axis
            if d is not None and shape[1 - unit_axis] != d:
                if shape[unit_axis] == d:
                    unit_axis = 1 - unit_axis
                else:
                    mismatch.append(f"{name} {shape}: no axis of length {d}")
                    break
            layers.setdefault(layer, {}).setdefault(group, []).append(
                AlignedTensor(name, layer, part, group, unit_axis, shape))
            break
        else:
            unaligned.append(name)
    return Layout(hidden_size=d, layers=layers, embed=embed, head=head, unaligned=unaligned,
                  shape_mismatch=mismatch)


def describe(ck: Checkpoint) -> dict:
    """What :func:`layout_of` makes of a checkpoint: format, sizes, aligned groups, leftovers.

    Lets a user check, before comparing, that a model's tensors were recognised.
    """
    layout = layout_of(ck)
    dtypes: dict[str, int] = {}
    for info in ck.tensors.values():
        dtypes[info.dtype] = dtypes.get(info.dtype, 0) + 1
    groups: dict[str, dict[str, object]] = {}
    for layer_groups in layout.layers.values():
        for group, tensors in layer_groups.items():
            entry = groups.setdefault(group, {"layers": 0, "units_per_layer": set(), "parts": set()})
            entry["layers"] = int(entry["layers"]) + 1  # type: ignore[call-overload]
            entry["units_per_layer"].add(sum(t.n_units for t in tensors))  # type: ignore[union-attr]
            entry["parts"].update(t.part for t in tensors)  # type: ignore[union-attr]
    return {
        "path": str(ck.path),
        "format": ck.format,
        "parameters": ck.n_parameters,
        "tensors": len(ck.tensors),
        "dtypes": dtypes,
        "hidden_size": layout.hidden_size,
        "layers": layout.n_layers,
        "groups": {g: {"layers": v["layers"], "units_per_layer": sorted(v["units_per_layer"]),  # type: ignore[arg-type]
                       "parts": sorted(v["parts"])} for g, v in sorted(groups.items())},  # type: ignore[arg-type]
        "embedding": None if layout.embed is None else {"name": layout.embed.name, "shape": list(layout.embed.shape)},
        "output_head": None if layout.head is None else {"name": layout.head.name, "shape": list(layout.head.shape)},
        "unaligned": layout.unaligned,
        "shape_mismatch": layout.shape_mismatch,
        "tokenizer_vocabulary": len(ck.vocab() or {}),
    }
