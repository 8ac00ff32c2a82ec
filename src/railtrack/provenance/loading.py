"""Read model weights from local folders one tensor (or one slice of rows) at a time.

Supported inputs:

* safetensors: a single ``*.safetensors`` file, a folder holding one, or a sharded folder
  with ``model.safetensors.index.json`` (or several ``*.safetensors`` files without an
  index). F32 / F16 / F64 tensors are read through ``safetensors.safe_open(framework="numpy")``;
  BF16 tensors (which numpy cannot represent) are read as raw 16-bit values through a
  ``numpy.memmap`` of exactly the rows asked for and widened to float32 by shifting them
  into the high half of a 32-bit word.
* GGUF: a ``*.gguf`` file (or a folder holding exactly one), read by the ``gguf`` package's
  reader and dequantized row-slice by row-slice with ``gguf.quants.dequantize``.

Every read returns float32 and maps only the bytes it needs, so the peak memory of a
comparison is bounded by the largest slice asked for, not by the model size.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import InputError, NotFoundError

__all__ = ["TensorInfo", "Checkpoint", "open_checkpoint", "widen_bf16"]

_ST_DTYPES: dict[str, tuple[np.dtype, int]] = {
    "F64": (np.dtype("<f8"), 8),
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),
}

#: row chunk size (elements) for streamed reads: about 32 MB of float32 per chunk
CHUNK_ELEMENTS = 8 * 1024 * 1024


def widen_bf16(raw: np.ndarray) -> np.ndarray:
    """Widen raw bfloat16 bit patterns (uint16) to float32: the 16 bits become the high half.

    Written as a strided copy into the high 16-bit halves of a zeroed buffer, which is an
    order of magnitude faster than casting to uint32 and shifting.
    """
    raw = np.asarray(raw, dtype=np.uint16)
    words = np.zeros(raw.size * 2, dtype=np.uint16)
    high = 1 if sys.byteorder == "little" else 0
    words[high::2] = raw.reshape(-1)
    return words.view(np.float32).reshape(raw.shape)


@dataclass(frozen=True)
class TensorInfo:
    """One stored tensor: its name, shape, stored dtype and the file that holds it."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    file: Path
    #: byte offset of the tensor's data in the file (safetensors only)
    offset: int = 0

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= int(s)
        return n

    @property
    def floating(self) -> bool:
        return self.dtype in _ST_DTYPES or self.dtype.startswith("GGUF:")


@dataclass
class Checkpoint:
    """A model's stored weights, opened lazily. Use :func:`open_checkpoint` to create one."""

    path: Path
    format: str  # "safetensors" | "gguf"
    tensors: dict[str, TensorInfo]
    config: dict[str, Any] = field(default_factory=dict)
    _vocab: dict[str, int] | None = None
    _vocab_loaded: bool = False
    _gguf: Any = None

    # -- metadata -----------------------------------------------------------------------
    def names(self) -> list[str]:
        """Tensor names in storage order."""
        return list(self.tensors)

    def info(self, name: str) -> TensorInfo:
        try:
            return self.tensors[name]
        except KeyError:
            raise NotFoundError(f"{self.path}: no tensor named {name!r}") from None

    @property
    def n_parameters(self) -> int:
        return sum(t.numel for t in self.tensors.values())

    @property
    def hidden_size(self) -> int | None:
        for key in ("hidden_size", "n_embd", "d_model", "dim"):
            value = self.config.get(key)
            if isinstance(value, int) and value > 0:
                return value
        return None

    def vocab(self) -> dict[str, int] | None:
        """Token string -> id from ``tokenizer.json`` (or the GGUF token list), if present."""
        if not self._vocab_loaded:
            self._vocab_loaded = True
            self._vocab = _load_vocab(self)
        return self._vocab

    # -- data ---------------------------------------------------------------------------
    def read(self, name: str, start: int | None = None, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` (first axis) of tensor ``name`` as a new float32 array."""
        info = self.info(name)
        n0 = info.shape[0] if info.shape else 1
        a = 0 if start is None else max(0, int(start))
        b = n0 if stop is None else min(n0, int(stop))
        if b < a:
            b = a
        try:
            if self.format == "gguf":
                return self._read_gguf(info, a, b)
            return _read_safetensors(info, a, b)
        except OSError as exc:  # file vanished or unreadable mid-comparison
            raise InputError(f"cannot read {info.file}: {exc.strerror or exc}") from None

    def take(self, name: str, rows: np.ndarray) -> np.ndarray:
        """The given rows (first axis) of tensor ``name`` as float32, reading only those rows."""
        rows = np.asarray(rows, dtype=np.int64)
        info = self.info(name)
        if info.dtype == "BF16" and self.format == "safetensors" and len(info.shape) >= 1:
            shape = tuple(int(s) for s in info.shape)
            try:
                mm = np.memmap(info.file, dtype="<u2", mode="r", offset=info.offset, shape=shape)
            except OSError as exc:
                raise InputError(f"cannot read {info.file}: {exc.strerror or exc}") from None
            try:
                out = widen_bf16(np.asarray(mm[rows]))
            finally:
                del mm
            return out
        if len(rows) == 0:
            return np.zeros((0,) + tuple(info.shape[1:]), dtype=np.float32)
        if info.numel <= CHUNK_ELEMENTS or self.format == "gguf" and len(rows) > 64:
            lo, hi = int(rows.min()), int(rows.max()) + 1
            return self.read(name, lo, hi)[rows - lo]
        if self.format == "safetensors":
            from safetensors import safe_open

            with safe_open(str(info.file), framework="numpy") as fh:
                sl = fh.get_slice(name)
                return np.concatenate([np.asarray(sl[int(r):int(r) + 1], dtype=np.float32) for r in rows])
        return np.concatenate([self.read(name, int(r), int(r) + 1) for r in rows], axis=0)

    def iter_rows(self, name: str, chunk_elements: int = CHUNK_ELEMENTS) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start_row, rows)`` float32 chunks covering tensor ``name``."""
        info = self.info(name)
        if not info.shape:
            yield 0, self.read(name)
            return
        n0 = int(info.shape[0])
        per_row = max(1, info.numel // max(1, n0))
        step = max(1, chunk_elements // per_row)
        for a in range(0, n0, step):
            yield a, self.read(name, a, min(n0, a + step))

    def _read_gguf(self, info: TensorInfo, a: int, b: int) -> np.ndarray:
        import gguf.quants

        tensor = self._gguf_tensor(info.name)
        data = tensor.data
        qtype = tensor.tensor_type
        part = np.asarray(data[a:b]) if data.ndim >= 1 else np.asarray(data)
        try:
            out = gguf.quants.dequantize(part, qtype)
        except NotImplementedError:
            raise InputError(f"{self.path}: tensor {info.name}: GGUF type {qtype.name} cannot be dequantized") from None
        out = np.array(out, dtype=np.float32, copy=True)
        self._release_gguf_pages()
        return out

    def _release_gguf_pages(self) -> None:
        """Drop the file pages the reader's whole-file memory map has touched (best effort).

        They are clean file-backed pages, so the kernel re-reads them if needed; without this
        they would stay in the process's RSS until the reader is closed.
        """
        import mmap

        raw = getattr(getattr(self._gguf, "data", None), "_mmap", None)
        if raw is None or not hasattr(raw, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
            return
        try:
            raw.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):
            pass

    def _gguf_tensor(self, name: str) -> Any:
        if self._gguf is None:
            raise InputError(f"{self.path}: GGUF reader is closed")
        for t in self._gguf.tensors:
            if t.name == name:
                return t
        raise NotFoundError(f"{self.path}: no tensor named {name!r}")

    def close(self) -> None:
        self._gguf = None

    def __enter__(self) -> "Checkpoint":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- safetensors ----------------------------------------------------------------------------

def _read_header(file: Path) -> tuple[dict[str, Any], int]:
    try:
        with open(file, "rb") as fh:
            head = fh.read(8)
            if len(head) != 8:
                raise InputError(f"{file}: not a safetensors file (too short)")
            (n,) = struct.unpack("<Q", head)
            size = file.stat().st_size
            if n <= 0 or n > min(size - 8, 100 * 1024 * 1024):
                raise InputError(f"{file}: not a safetensors file (bad header length)")
            header = json.loads(fh.read(n))
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{file}: not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise InputError(f"{file}: not a safetensors file (header is not an object)")
    return header, 8 + n


def _safetensors_infos(file: Path) -> dict[str, TensorInfo]:
    header, data_start = _read_header(file)
    size = file.stat().st_size
    out: dict[str, TensorInfo] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = str(meta["dtype"])
            shape = tuple(int(s) for s in meta["shape"])
            begin, end = (int(x) for x in meta["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{file}: malformed header entry for tensor {name!r}") from None
        if data_start + end > size or end < begin:
            raise InputError(f"{file}: tensor {name!r} lies outside the file (truncated download?)")
        out[name] = TensorInfo(name=name, shape=shape, dtype=dtype, file=file, offset=data_start + begin)
    return out


def _read_safetensors(info: TensorInfo, a: int, b: int) -> np.ndarray:
    if info.dtype not in _ST_DTYPES:
        raise InputError(f"{info.file}: tensor {info.name} has dtype {info.dtype}, not a float type")
    shape = tuple(int(s) for s in info.shape)
    if not shape:
        shape_rows: tuple[int, ...] = (1,)
        a, b = 0, 1
    else:
        shape_rows = shape
    row_elems = 1
    for s in shape_rows[1:]:
        row_elems *= s
    if info.dtype == "BF16":
        n = (b - a) * row_elems
        if n == 0:
            return np.zeros((b - a,) + shape_rows[1:], dtype=np.float32)
        mm = np.memmap(info.file, dtype="<u2", mode="r", offset=info.offset + 2 * a * row_elems,
                       shape=(b - a,) + shape_rows[1:])
        try:
            out = widen_bf16(np.asarray(mm))
        finally:
            del mm
        return out.reshape((b - a,) + shape_rows[1:]) if shape else out.reshape(())
    from safetensors import safe_open

    # a fresh handle per read: its memory map is released as soon as the slice is copied
    with safe_open(str(info.file), framework="numpy") as fh:
        if shape:
            arr = fh.get_slice(info.name)[a:b]
        else:
            arr = fh.get_tensor(info.name)
        return np.array(arr, dtype=np.float32, copy=True)


def _open_safetensors(root: Path, files: list[Path], index: Path | None) -> Checkpoint:
    tensors: dict[str, TensorInfo] = {}
    if index is not None:
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            if not isinstance(weight_map, dict):
                raise TypeError
        except (OSError, json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
            raise InputError(f"{index}: not a valid safetensors index (no weight_map)") from None
        shards = sorted({str(v) for v in weight_map.values()})
        per_file: dict[str, dict[str, TensorInfo]] = {}
        for shard in shards:
            shard_path = index.parent / shard
            if not shard_path.is_file():
                raise InputError(f"{index}: shard {shard} is missing")
            per_file[shard] = _safetensors_infos(shard_path)
        for name, shard in weight_map.items():
            infos = per_file[str(shard)]
            if name not in infos:
                raise InputError(f"{index}: tensor {name} is not in shard {shard}")
            tensors[name] = infos[name]
    else:
        for f in files:
            for name, ti in _safetensors_infos(f).items():
                tensors[name] = ti
    return Checkpoint(path=root, format="safetensors", tensors=tensors, config=_load_config(root))


# -- GGUF --------------------------------------------------------------------------------

_GGUF_CONFIG_KEYS = {
    "embedding_length": "hidden_size",
    "block_count": "num_hidden_layers",
    "feed_forward_length": "intermediate_size",
    "attention.head_count": "num_attention_heads",
    "attention.head_count_kv": "num_key_value_heads",
    "vocab_size": "vocab_size",
}


def _open_gguf(file: Path) -> Checkpoint:
    try:
        from gguf import GGUFReader

        reader = GGUFReader(str(file))
    except (ValueError, OSError, struct.error, IndexError) as exc:
        raise InputError(f"{file}: not a readable GGUF file ({exc})") from None
    config: dict[str, Any] = {}
    arch_field = reader.fields.get("general.architecture")
    arch = str(arch_field.contents()) if arch_field is not None else ""
    config["architecture"] = arch
    for suffix, key in _GGUF_CONFIG_KEYS.items():
        fld = reader.fields.get(f"{arch}.{suffix}")
        if fld is not None:
            try:
                value = fld.contents()
            except Exception:  # noqa: BLE001 - odd metadata is ignored, not fatal
                continue
            if isinstance(value, (int, np.integer)):
                config[key] = int(value)
    tensors: dict[str, TensorInfo] = {}
    for t in reader.tensors:
        # GGUF lists dims fastest-first; the reader's array is (rows, ..., cols)
        shape = tuple(int(s) for s in reversed([int(x) for x in t.shape]))
        tensors[t.name] = TensorInfo(name=t.name, shape=shape, dtype=f"GGUF:{t.tensor_type.name}", file=file)
    ck = Checkpoint(path=file, format="gguf", tensors=tensors, config=config)
    ck._gguf = reader
    return ck


# -- config and vocabulary ------------------------------------------------------------------

def _load_config(root: Path) -> dict[str, Any]:
    folder = root if root.is_dir() else root.parent
    cfg = folder / "config.json"
    if not cfg.is_file():
        return {}
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{cfg}: not valid JSON") from None
    if not isinstance(data, dict):
        return {}
    # multimodal wrappers keep the language model's sizes in text_config
    text = data.get("text_config")
    if isinstance(text, dict):
        merged = dict(data)
        merged.update({k: v for k, v in text.items() if k not in merged or k == "hidden_size"})
        return merged
    return data


def _load_vocab(ck: Checkpoint) -> dict[str, int] | None:
    if ck.format == "gguf":
        fld = ck._gguf.fields.get("tokenizer.ggml.tokens") if ck._gguf is not None else None
        if fld is None:
            return None
        try:
            tokens = fld.contents()
        except Exception:  # noqa: BLE001
            return None
        return {str(tok): i for i, tok in enumerate(tokens)} if isinstance(tokens, list) else None
    folder = ck.path if ck.path.is_dir() else ck.path.parent
    tok_file = folder / "tokenizer.json"
    if not tok_file.is_file():
        return None
    try:
        data = json.loads(tok_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    vocab: dict[str, int] = {}
    model = data.get("model") if isinstance(data, dict) else None
    raw = model.get("vocab") if isinstance(model, dict) else None
    if isinstance(raw, dict):
        vocab.update({str(k): int(v) for k, v in raw.items() if isinstance(v, int)})
    elif isinstance(raw, list):  # Unigram: [[piece, score], ...]
        for i, item in enumerate(raw):
            if isinstance(item, (list, tuple)) and item:
                vocab[str(item[0])] = i
    for added in data.get("added_tokens", []) or []:
        if isinstance(added, dict) and "content" in added and isinstance(added.get("id"), int):
            vocab[str(added["content"])] = int(added["id"])
    return vocab or None


# -- entry point ---------------------------------------------------------------------------

def open_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Open a model folder or weights file (safetensors, sharded safetensors or GGUF).

    Raises :class:`InputError` (one readable line) when the path holds no readable weights.
    """
    root = Path(path)
    if not root.exists():
        raise NotFoundError(f"{root}: no such file or folder")
    if root.is_file():
        if root.suffix == ".gguf":
            return _open_gguf(root)
        if root.name.endswith(".safetensors.index.json"):
            return _open_safetensors(root.parent, [], root)
        if root.suffix == ".safetensors":
            return _open_safetensors(root, [root], None)
        raise InputError(f"{root}: not a .safetensors or .gguf file")
    index = root / "model.safetensors.index.json"
    if index.is_file():
        return _open_safetensors(root, [], index)
    indexes = sorted(root.glob("*.safetensors.index.json"))
    if len(indexes) == 1:
        return _open_safetensors(root, [], indexes[0])
    files = sorted(root.glob("*.safetensors"))
    if files:
        return _open_safetensors(root, files, None)
    ggufs = sorted(root.glob("*.gguf"))
    if len(ggufs) == 1:
        return _open_gguf(ggufs[0])
    if len(ggufs) > 1:
        raise InputError(f"{root}: holds {len(ggufs)} .gguf files; name one of them")
    if any(root.glob("*.bin")) or any(root.glob("*.pt")) or any(root.glob("*.pth")):
        raise InputError(f"{root}: only pickled PyTorch weights (.bin/.pt); convert them to safetensors first")
    raise InputError(f"{root}: no .safetensors or .gguf weights found")
