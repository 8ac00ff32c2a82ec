"""Jinja2 templates (autoescaped everywhere) and the folder of local static assets."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi.templating import Jinja2Templates

from .. import __version__

HERE = Path(__file__).resolve().parent
TEMPLATE_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def _percent(value: Any) -> str:
    if value is None:
        return "-"
    try:
        return f"{float(value) * 100:.1f}%"
    except (TypeError, ValueError):
        return str(value)


def _path_quote(value: Any) -> str:
    """Quote a model id for a URL path, keeping the ``owner/name`` slash readable."""
    return quote(str(value), safe="/")


def _query_quote(value: Any) -> str:
    return quote(str(value), safe="")


env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
    autoescape=True,  # every template, whatever its name: user-typed text is always escaped
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["number"] = _number
env.filters["percent"] = _percent
env.filters["pathquote"] = _path_quote
env.filters["qquote"] = _query_quote
env.globals["version"] = __version__

templates = Jinja2Templates(env=env)
