"""Model card parsing: YAML front matter through huggingface_hub's card utilities, guarded.

A Hub model card is a README with a YAML front matter block. Real cards are messy and
some are hostile: invalid YAML, megabytes of metadata, or "billion laughs" alias bombs
whose expansion is exponential. :func:`parse_card` never raises on card content: it
returns a :class:`ParsedCard` whose ``error`` says why the metadata was ignored.

Guards, applied before any object is constructed from the YAML:

* the front matter block is at most :data:`MAX_YAML_BYTES` long;
* the composed YAML graph, with every alias expanded, has at most
  :data:`MAX_YAML_NODES` nodes and is at most :data:`MAX_YAML_DEPTH` levels deep
  (computed on the node graph with memoisation, so a bomb is measured without being
  expanded);
* the top level is a mapping.

The front matter is located with ``huggingface_hub.repocard.REGEX_YAML_BLOCK`` and the
resulting dict is normalised through ``huggingface_hub.ModelCardData`` - the same code the
Hub client uses - so field handling (``license``, ``base_model``, ``eval_results``...)
matches the Hub's own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import yaml
from huggingface_hub import ModelCardData
from huggingface_hub.repocard import REGEX_YAML_BLOCK

MAX_YAML_BYTES = 256 * 1024
MAX_YAML_NODES = 50_000
MAX_YAML_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Relations the Hub uses in ``base_model_relation`` and ``base_model:<relation>:<id>`` tags.
RELATIONS = ("adapter", "finetune", "quantized", "merge")


@dataclass
class ParsedCard:
    """What a card declares. ``error`` is set (and metadata empty) when the YAML was refused."""

    metadata: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    error: str | None = None
    card_hash: str | None = None

    @property
    def licenses(self) -> list[str]:
        return normalize_licenses(self.metadata.get("license"))

    @property
    def license_name(self) -> str | None:
        return _scalar(self.metadata.get("license_name"))

    @property
    def license_link(self) -> str | None:
        return _scalar(self.metadata.get("license_link"))

    @property
    def base_models(self) -> list[str]:
        return normalize_ids(self.metadata.get("base_model"))

    @property
    def base_model_relation(self) -> str | None:
        rel = _scalar(self.metadata.get("base_model_relation"))
        rel = rel.lower() if rel else None
        return rel if rel in RELATIONS else None


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
        if value is None:
            return None
    if isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def normalize_licenses(value: Any) -> list[str]:
    """Card ``license`` (a string or a list) -> sorted distinct lowercase license ids."""
    items: list[Any]
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = set()
    for item in items:
        if isinstance(item, (dict, list)) or item is None:
            continue
        text = str(item).strip().lower()
        if text:
            out.add(text)
    return sorted(out)


def normalize_model_id(value: Any) -> str | None:
    """A Hub model id from an id or a ``https://huggingface.co/<id>`` URL; ``None`` if empty."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    for prefix in ("https://huggingface.co/", "http://huggingface.co/", "huggingface.co/", "hf.co/"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    text = text.strip().strip("/")
    if not text or text.lower() in ("nan", "none", "null", "n/a"):
        return None
    return text


def normalize_ids(value: Any) -> list[str]:
    """Card ``base_model`` (a string or a list) -> distinct model ids in declared order."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        mid = normalize_model_id(item)
        if mid and mid not in out:
            out.append(mid)
    return out


def _expanded_size(root: yaml.Node) -> tuple[int, int]:
    """(node count, depth) of ``root`` with aliases expanded, without expanding them."""
    memo: dict[int, tuple[int, int]] = {}
    visiting: set[int] = set()

    def walk(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in memo:
            return memo[key]
        if key in visiting:  # recursive alias: infinite expansion
            raise _Refused("card YAML has a recursive alias")
        visiting.add(key)
        size, depth = 1, 1
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            s, d = walk(child)
            size += s
            depth = max(depth, d + 1)
            if size > MAX_YAML_NODES:
                raise _Refused(f"card YAML expands to more than {MAX_YAML_NODES} nodes (alias bomb?)")
            if depth > MAX_YAML_DEPTH:
                raise _Refused(f"card YAML is nested deeper than {MAX_YAML_DEPTH} levels")
        visiting.discard(key)
        memo[key] = (size, depth)
        return size, depth

    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, MAX_YAML_DEPTH * 4 + 200))
    try:
        return walk(root)
    finally:
        sys.setrecursionlimit(old)


class _Refused(Exception):
    pass


def load_front_matter(yaml_text: str) -> dict[str, Any]:
    """Safely load one YAML front matter block; raise ``ValueError`` with a reason if refused."""
    if len(yaml_text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise ValueError(f"card YAML is larger than {MAX_YAML_BYTES // 1024} KiB")
    loader = _Loader(yaml_text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise ValueError(f"card YAML is invalid: {str(exc).splitlines()[0]}") from None
        except RecursionError:
            raise ValueError(f"card YAML is nested deeper than {MAX_YAML_DEPTH} levels") from None
        if node is None:
            return {}
        try:
            _expanded_size(node)
        except _Refused as exc:
            raise ValueError(str(exc)) from None
        except RecursionError:
            raise ValueError(f"card YAML is nested deeper than {MAX_YAML_DEPTH} levels") from None
        if not isinstance(node, yaml.MappingNode):
            raise ValueError("card YAML is not a mapping")
        try:
            data = loader.construct_document(node)
        except (yaml.YAMLError, TypeError, ValueError) as exc:
            raise ValueError(f"card YAML is invalid: {str(exc).splitlines()[0]}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ValueError("card YAML is not a mapping")
    return {str(k): v for k, v in data.items()}


def card_hash(text: str) -> str:
    """SHA-256 (hex) of a card's text, as stored in ``models.card_hash``."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def parse_card(text: str | None) -> ParsedCard:
    """Parse a README/model card; never raises on its content.

    Returns the normalised metadata (through ``huggingface_hub.ModelCardData``), the
    Markdown body, the card hash and, when the metadata was refused, ``error``.
    """
    if text is None or not isinstance(text, str) or not text.strip():
        return ParsedCard()
    digest = card_hash(text)
    match = REGEX_YAML_BLOCK.search(text)
    if match is None:
        return ParsedCard(body=text, card_hash=digest)
    body = text[match.end():]
    try:
        raw = load_front_matter(match.group(2))
    except ValueError as exc:
        return ParsedCard(body=body, error=str(exc), card_hash=digest)
    try:
        data = ModelCardData(ignore_metadata_errors=True, **raw).to_dict()
    except Exception as exc:  # huggingface_hub raises various errors on odd eval results
        data = raw
        return ParsedCard(metadata=data, body=body, card_hash=digest,
                          error=f"card metadata not understood by huggingface_hub: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    return ParsedCard(metadata=data, body=body, card_hash=digest)


def metadata_from_yaml_string(text: str | None) -> tuple[dict[str, Any], str | None]:
    """Parse a bare YAML mapping (``cardData`` as served in some dumps); (data, error)."""
    if not text or not isinstance(text, str) or not text.strip():
        return {}, None
    try:
        return load_front_matter(text), None
    except ValueError as exc:
        return {}, str(exc)
