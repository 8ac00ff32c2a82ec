"""Corpus scan: test every document, control the false discovery rate, write an evidence report.

Corpora are JSON Lines (one object per line with a ``text`` field and an optional ``id``),
Parquet (a ``text`` column, optional ``id``) or a folder of ``*.txt`` files. Every document
is tokenised with the same fast tokenizer and scored with the key (no model weights);
per-document exact binomial p-values are adjusted with Benjamini-Hochberg, and a document
is *flagged* when its adjusted p-value (q-value) is at most ``alpha``.

The work runs in-process by default. With ``scheduler="local"`` it runs on a
``dask.distributed.LocalCluster``; with ``scheduler="tcp://host:port"`` on an existing Dask
cluster. Workers receive the tokenizer (serialised JSON) and the key material they need to
score; results are identical to the in-process scan (tested).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from scipy import stats

from ..errors import InputError, UsageError
from .detect import DEFAULT_WINDOWS, DEFAULT_Z_THRESHOLD, detect_ids_many, span_chars, windowed
from .keys import WatermarkKey, WatermarkParams
from .prf import describe as prf_describe

REPORT_FORMAT = "railtrack-watermark-scan"


@dataclass
class Document:
    id: str
    text: str


# --------------------------------------------------------------------------- corpus readers

def read_corpus(path: str | os.PathLike[str], *, text_field: str = "text", id_field: str = "id") -> list[Document]:
    """Read a JSONL file, a Parquet file or a folder of ``.txt`` files into documents."""
    src = Path(path)
    if not src.exists():
        raise InputError(f"corpus {src} does not exist")
    docs: list[Document] = []
    if src.is_dir():
        files = sorted(p for p in src.rglob("*.txt") if p.is_file())
        if not files:
            raise InputError(f"{src} holds no .txt files")
        for f in files:
            try:
                docs.append(Document(str(f.relative_to(src)), f.read_text(encoding="utf-8")))
            except UnicodeDecodeError:
                raise InputError(f"{f} is not UTF-8 text") from None
        return docs
    suffix = src.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        with src.open("r", encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{src}:{n}: invalid JSON ({exc.msg})") from None
                if not isinstance(obj, dict) or not isinstance(obj.get(text_field), str):
                    raise InputError(f"{src}:{n}: expected an object with a string {text_field!r} field")
                docs.append(Document(str(obj.get(id_field, n)), obj[text_field]))
        return docs
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(src)
        except Exception as exc:
            raise InputError(f"{src}: cannot read Parquet ({exc})") from None
        if text_field not in table.column_names:
            raise InputError(f"{src}: no {text_field!r} column (columns: {', '.join(table.column_names)})")
        texts = table.column(text_field).to_pylist()
        ids = table.column(id_field).to_pylist() if id_field in table.column_names else list(range(1, len(texts) + 1))
        for i, t in zip(ids, texts):
            docs.append(Document(str(i), t if isinstance(t, str) else ""))
        return docs
    if suffix == ".txt":
        return [Document(src.name, src.read_text(encoding="utf-8", errors="replace"))]
    raise InputError(f"{src}: unsupported corpus format (use .jsonl, .parquet or a folder of .txt files)")


# --------------------------------------------------------------------------- scoring chunks

def _tokenizer_payload(tokenizer: Any) -> tuple[str, Any]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return "json", backend.to_str()
    return "object", tokenizer


def _encode_payload(payload: tuple[str, Any], texts: Sequence[str]) -> tuple[list[np.ndarray], list[list[tuple[int, int]]]]:
    kind, obj = payload
    if kind == "json":
        from tokenizers import Tokenizer

        tok = _BACKENDS.get(obj)
        if tok is None:
            tok = Tokenizer.from_str(obj)
            _BACKENDS.clear()
            _BACKENDS[obj] = tok
        enc = tok.encode_batch(list(texts), add_special_tokens=False)
        return [np.asarray(e.ids, dtype=np.int64) for e in enc], [e.offsets for e in enc]
    enc = obj(list(texts), add_special_tokens=False, return_offsets_mapping=True)
    return [np.asarray(e, dtype=np.int64) for e in enc["input_ids"]], enc["offset_mapping"]


_BACKENDS: dict[str, Any] = {}


def score_chunk(texts: Sequence[str], secret: bytes, params: WatermarkParams, payload: tuple[str, Any],
                z_threshold: float, ignore_repeated_ngrams: bool, windows: Sequence[int]) -> list[dict[str, Any]]:
    """Score one chunk of documents (runs in-process or on a Dask worker)."""
    key = WatermarkKey(secret, params)
    ids, offsets = _encode_payload(payload, texts)
    dets = detect_ids_many(ids, key, z_threshold=z_threshold, ignore_repeated_ngrams=ignore_repeated_ngrams)
    out = []
    for i, d in enumerate(dets):
        row: dict[str, Any] = {
            "tokens_total": d.tokens_total, "tokens_scored": d.tokens_scored, "green_tokens": d.green_tokens,
            "green_fraction": d.green_fraction, "z_score": d.z_score,
            "p_value": d.p_value, "p_value_normal": d.p_value_normal,
            "watermarked": d.watermarked, "window": None,
        }
        if windows and ids[i].shape[0] > key.context_width:
            w = windowed(ids[i], key, windows=windows, z_threshold=z_threshold,
                         ignore_repeated_ngrams=ignore_repeated_ngrams)
            if w.spans:
                span_chars(w, offsets[i])
            row["window"] = w.to_dict()
        out.append(row)
    return out


# --------------------------------------------------------------------------- scan

def benjamini_hochberg(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values)."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p
    return stats.false_discovery_control(np.clip(p, 0.0, 1.0), method="bh")


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    return [(i, min(n, i + size)) for i in range(0, n, size)]


def scan(docs: Sequence[Document], key: WatermarkKey, tokenizer: Any, *, alpha: float = 0.01,
         z_threshold: float = DEFAULT_Z_THRESHOLD, ignore_repeated_ngrams: bool = True,
         windows: Sequence[int] = DEFAULT_WINDOWS, scheduler: str | None = None, chunk_size: int = 2000,
         corpus_name: str | None = None, progress: bool = False) -> dict[str, Any]:
    """Scan documents for the watermark of ``key`` and return the evidence report (a JSON-able dict).

    ``scheduler``: ``None`` in-process; ``"local"`` a new Dask LocalCluster; otherwise the
    address of a running Dask scheduler.
    """
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha must be between 0 and 1, got {alpha}")
    if chunk_size < 1:
        raise UsageError("chunk size must be positive")
    from .models import tokenizer_info

    payload = _tokenizer_payload(tokenizer)
    texts = [d.text for d in docs]
    spans = _chunks(len(texts), chunk_size)
    args = (key.secret, key.params, payload, float(z_threshold), bool(ignore_repeated_ngrams), tuple(windows))
    rows: list[dict[str, Any]] = []
    if scheduler is None:
        for a, b in _progress(spans, progress, "scanning"):
            rows.extend(score_chunk(texts[a:b], *args))
        backend = {"kind": "in-process"}
    else:
        rows, backend = _scan_dask(texts, spans, args, scheduler, progress)
    q = benjamini_hochberg([r["p_value"] for r in rows])
    documents = []
    for doc, row, qv in zip(docs, rows, q.tolist()):
        documents.append({"id": doc.id, **row, "q_value": float(qv), "flagged": bool(qv <= alpha)})
    corpus_hash = hashlib.sha256()
    for d in docs:
        corpus_hash.update(d.id.encode("utf-8") + b"\0" + d.text.encode("utf-8") + b"\0")
    from .. import __version__

    return {
        "report": REPORT_FORMAT,
        "version": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "railtrack_version": __version__,
        "corpus": {"name": corpus_name, "documents": len(docs), "sha256": corpus_hash.hexdigest()},
        "key_fingerprint": key.fingerprint,
        "params": key.params.to_dict(),
        "prf": prf_describe(),
        "tokenizer": tokenizer_info(tokenizer),
        "method": {
            "statistic": "one-proportion z over scored tokens; p_value is the exact binomial tail P(Bin(T,gamma) >= G)",
            "ignore_repeated_ngrams": bool(ignore_repeated_ngrams),
            "z_threshold": float(z_threshold),
            "multiple_testing": "Benjamini-Hochberg over all documents; flagged means q_value <= alpha",
            "alpha": float(alpha),
            "windows": list(windows),
            "window_note": ("window z-scores are maxima over many overlapping windows and are not calibrated; "
                            "p_value_bonferroni is a conservative valid bound"),
        },
        "backend": backend,
        "summary": {
            "documents": len(docs),
            "flagged": int(sum(d["flagged"] for d in documents)),
            "watermarked_at_z_threshold": int(sum(d["watermarked"] for d in documents)),
            "with_flagged_spans": int(sum(1 for d in documents if d["window"] and d["window"]["spans"])),
            "tokens_total": int(sum(d["tokens_total"] for d in documents)),
            "tokens_scored": int(sum(d["tokens_scored"] for d in documents)),
        },
        "documents": documents,
    }


def _progress(items: Sequence[Any], enabled: bool, label: str) -> Iterable[Any]:
    if not enabled or len(items) <= 1:
        yield from items
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=len(items))
        for item in items:
            yield item
            bar.advance(task)


def _scan_dask(texts: list[str], spans: list[tuple[int, int]], args: tuple, scheduler: str,
               progress: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if scheduler == "local":
            cluster = LocalCluster(n_workers=min(4, os.cpu_count() or 1), threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise InputError(f"cannot reach Dask scheduler {scheduler}: {exc}") from None
        try:
            shared = client.scatter(args, broadcast=True)
            futures = [client.submit(score_chunk, texts[a:b], *shared, pure=False) for a, b in spans]
            results = client.gather(futures)
            info = {"kind": "dask", "scheduler": "local" if cluster is not None else scheduler,
                    "workers": len(client.scheduler_info().get("workers", {})), "chunks": len(spans)}
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
    rows: list[dict[str, Any]] = []
    for r in results:
        rows.extend(r)
    return rows, info


# --------------------------------------------------------------------------- rendering

def _md(text: Any) -> str:
    """Escape text for a Markdown table cell."""
    s = str(text)
    for ch in "\\`*_{}[]()<>#+-.!|~":
        s = s.replace(ch, "\\" + ch)
    return s.replace("\n", " ").replace("\r", " ")


def render_markdown(report: dict[str, Any]) -> str:
    """A human-readable Markdown evidence report (all user-supplied values escaped)."""
    p = report["params"]
    lines = [
        "# Watermark scan evidence report", "",
        f"- created: {_md(report['created'])}",
        f"- corpus: {_md(report['corpus']['name'] or '')} ({report['corpus']['documents']} documents, "
        f"sha256 {report['corpus']['sha256']})",
        f"- key fingerprint: {report['key_fingerprint']}",
        f"- parameters: gamma {p['gamma']}, delta {p['delta']}, context width {p['context_width']}, "
        f"seeding {p['seeding']}, PRF v{p['prf_version']}",
        f"- tokenizer: {_md(report['tokenizer']['name'])} (sha256 {report['tokenizer']['sha256']})",
        f"- method: exact binomial p-values, Benjamini-Hochberg at alpha {report['method']['alpha']}, "
        f"repeated n-grams scored once: {report['method']['ignore_repeated_ngrams']}",
        f"- flagged: {report['summary']['flagged']} of {report['summary']['documents']} documents", "",
        "| document | tokens scored | green fraction | z | p (exact) | q (BH) | flagged | best window z |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for d in report["documents"]:
        wz = f"{d['window']['z_score']:.2f}" if d.get("window") else ""
        lines.append(f"| {_md(d['id'])} | {d['tokens_scored']} | {d['green_fraction']:.3f} | {d['z_score']:.2f} | "
                     f"{d['p_value']:.3g} | {d['q_value']:.3g} | {'yes' if d['flagged'] else 'no'} | {wz} |")
    lines += ["", "Window z-scores are maxima over overlapping windows and are not calibrated p-values.", ""]
    return "\n".join(lines)


def write_report(report: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the report atomically: Markdown when ``path`` ends in ``.md``, JSON otherwise."""
    from .._io import atomic_write

    target = Path(path)
    if target.suffix.lower() == ".md":
        return atomic_write(target, render_markdown(report))
    return atomic_write(target, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
