"""Coercion of messy metadata values (JSON, Python literals, "None" strings) to typed ones."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from typing import Any

MAX_LITERAL_CHARS = 2_000_000

_SIBLING_RE = re.compile(r"rfilename=['\"]([^'\"]+)['\"]")


def parse_record(text: Any) -> tuple[dict[str, Any] | None, str | None]:
    """A metadata record from JSON or a Python literal; ``(None, reason)`` when unreadable."""
    if isinstance(text, dict):
        return text, None
    if text is None or not isinstance(text, str) or not text.strip() or text.strip().upper() in ("N/A", "NAN", "NONE", "NULL"):
        return None, "metadata missing"
    if len(text) > MAX_LITERAL_CHARS:
        return None, "metadata too large"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, RecursionError, MemoryError, TypeError):
            return None, "metadata unparseable (neither JSON nor a Python literal)"
    if not isinstance(value, dict):
        return None, "metadata is not an object"
    return value, None


def lit(value: Any) -> Any:
    """Undo stringification: ``"None"`` -> None, ``"False"`` -> False, ``"['a']"`` -> ['a']."""
    if not isinstance(value, str):
        return value
    s = value.strip()
    if s in ("None", "null", "", "nan", "NaN", "N/A"):
        return None
    if s in ("True", "true"):
        return True
    if s in ("False", "false"):
        return False
    if s[:1] in "[{(" and len(s) <= MAX_LITERAL_CHARS:
        try:
            return json.loads(s)
        except (ValueError, RecursionError):
            try:
                return ast.literal_eval(s)
            except (ValueError, SyntaxError, RecursionError, MemoryError, TypeError):
                return value
    return value


def to_int(value: Any) -> int | None:
    value = lit(value)
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None
    if abs(number) > 2**62:
        return None
    return number


def to_str(value: Any) -> str | None:
    value = lit(value)
    if value is None or isinstance(value, (list, dict, tuple)):
        return None
    text = str(value).strip()
    return text or None


def to_gated(value: Any) -> str | None:
    value = lit(value)
    if value is None:
        return None
    if value is False:
        return "false"
    if value is True:
        return "true"
    return str(value).strip().lower() or None


def to_list(value: Any) -> list[str]:
    value = lit(value)
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None and not isinstance(v, (dict, list))]
    if isinstance(value, str):
        return [value]
    return []


def to_timestamp(value: Any) -> dt.datetime | None:
    """ISO 8601 (with ``Z`` or an offset) or epoch milliseconds -> naive UTC datetime."""
    value = lit(value)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        ts = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            ts = dt.datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            ts = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    if ts.tzinfo is not None:
        ts = ts.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return ts


def sibling_files(value: Any) -> list[str]:
    """File names from ``siblings`` (dicts, ``RepoSibling(rfilename=...)`` reprs, or names)."""
    out: list[str] = []
    for item in (lit(value) or []) if not isinstance(lit(value), str) else []:
        name = None
        if isinstance(item, dict):
            name = item.get("rfilename")
        elif isinstance(item, str):
            m = _SIBLING_RE.search(item)
            name = m.group(1) if m else (item if "(" not in item else None)
        if name:
            out.append(str(name))
    return out


def base_models_field(value: Any) -> tuple[list[str], str | None]:
    """API ``baseModels`` (``{relation, models: [{id}]}``) -> (ids, relation)."""
    value = lit(value)
    if not isinstance(value, dict):
        return [], None
    rel = value.get("relation")
    ids = []
    for m in value.get("models") or []:
        mid = m.get("id") if isinstance(m, dict) else m
        if mid and str(mid) not in ids:
            ids.append(str(mid))
    return ids, (str(rel).lower() if rel else None)
