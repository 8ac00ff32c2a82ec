"""Watermarked generation with ``model.generate`` and :class:`WatermarkLogitsProcessor`."""

from __future__ import annotations

from typing import Any, Sequence

from .keys import WatermarkKey
from .processor import WatermarkLogitsProcessor


def build_inputs(tokenizer: Any, prompts: Sequence[str], *, chat: bool = True, device: Any = None) -> Any:
    """Left-padded batch of prompt ids (chat template applied when the tokenizer has one)."""
    tokenizer.padding_side = "left"
    if chat and getattr(tokenizer, "chat_template", None):
        texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                               add_generation_prompt=True) for p in prompts]
    else:
        texts = list(prompts)
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    if device is not None:
        enc = enc.to(device)
    return enc


def generate_ids(model: Any, tokenizer: Any, prompts: Sequence[str], key: WatermarkKey | None, *,
                 max_new_tokens: int = 200, min_new_tokens: int | None = None, do_sample: bool = True,
                 temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, seed: int | None = None,
                 chat: bool = True, return_nll: bool = False) -> Any:
    """Generated token ids (prompt removed, padding/EOS stripped) for each prompt.

    ``key=None`` generates without the watermark (the baseline for perplexity and
    overhead measurements). Sampling is plain multinomial by default (temperature 1, no
    top-k/top-p), the setting of Kirchenbauer et al.

    With ``return_nll=True`` it returns ``(ids, nll)`` where ``nll[i]`` is the mean negative
    log-likelihood of row i's generated tokens under the model's *raw* logits (before the
    watermark and any other processor): ``exp(nll)`` is the perplexity of the text under the
    same model without the watermark, at no extra forward pass.
    """
    import torch
    from transformers import LogitsProcessorList

    if seed is not None:
        torch.manual_seed(seed)
    enc = build_inputs(tokenizer, prompts, chat=chat, device=model.device)
    procs = LogitsProcessorList([WatermarkLogitsProcessor(key)] if key is not None else [])
    kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": do_sample,
                              "pad_token_id": tokenizer.pad_token_id}
    if min_new_tokens:
        kwargs["min_new_tokens"] = min_new_tokens
    if do_sample:
        kwargs.update(temperature=temperature, top_k=top_k, top_p=top_p)
    if return_nll:
        kwargs.update(output_logits=True, return_dict_in_generate=True)
    with torch.inference_mode():
        out = model.generate(**enc, logits_processor=procs, **kwargs)
    seqs = out.sequences if return_nll else out
    new_t = seqs[:, enc["input_ids"].shape[1]:]
    new = new_t.tolist()
    stops = {tokenizer.pad_token_id, tokenizer.eos_token_id}
    result = []
    for row in new:
        cut = len(row)
        for i, t in enumerate(row):
            if t in stops:
                cut = i
                break
        result.append(row[:cut])
    if not return_nll:
        return result
    nll = []
    steps = len(out.logits)
    totals = torch.zeros(new_t.shape[0], dtype=torch.float64)
    for t in range(steps):
        logp = torch.log_softmax(out.logits[t].float(), dim=-1)
        totals -= logp.gather(-1, new_t[:, t : t + 1]).squeeze(-1).double() * torch.tensor(
            [t < len(r) for r in result], dtype=torch.float64)
    for i, r in enumerate(result):
        nll.append(float(totals[i] / len(r)) if r else float("nan"))
    return result, nll


def generate(model: Any, tokenizer: Any, prompts: Sequence[str], key: WatermarkKey | None, **kwargs: Any) -> list[str]:
    """Generated text (prompt removed) for each prompt; see :func:`generate_ids` for options."""
    ids = generate_ids(model, tokenizer, prompts, key, **kwargs)
    return [tokenizer.decode(r, skip_special_tokens=True) for r in ids]
