"""Text check: is a text watermarked with the licensor's key? (``railtrack.watermark.detect``).

The key stays on the server (``railtrack serve --watermark-key KEY``); responses carry only
its fingerprint. Detection needs the tokenizer (default SmolLM2's) and the key, no model.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field

from ...errors import NotFoundError
from ..state import WebState, get_state
from ._common import ERRORS, NOT_FOUND, TOO_LARGE

router = APIRouter(prefix="/api/watermark", tags=["watermark"], responses={**ERRORS, **NOT_FOUND, **TOO_LARGE})

MAX_TEXT = 100_000
_load_lock = threading.Lock()


class CheckIn(BaseModel):
    text: str = Field(..., min_length=1, max_length=MAX_TEXT, description="The text to test")
    windows: bool = Field(False, description="Also find the most significant window (for text pasted into other text; uncalibrated)")
    mask: bool = Field(False, description="Include the per-token green mask")
    z_threshold: float = Field(4.0, ge=1.0, le=20.0, description="z-score at or above which the text counts as watermarked")


def enabled(state: WebState) -> bool:
    return state.watermark_key is not None


def key_and_tokenizer(state: WebState) -> tuple[Any, Any]:
    """The server's key and tokenizer, loaded once (the default tokenizer takes seconds the first time)."""
    if state.watermark_key is None:
        raise NotFoundError("the text check is off: start the server with --watermark-key KEY")
    cached = state.extras.get("watermark")
    if cached is not None:
        return cached
    with _load_lock:
        cached = state.extras.get("watermark")
        if cached is None:
            from ...watermark.keys import WatermarkKey
            from ...watermark.models import load_tokenizer

            key = WatermarkKey.load(state.watermark_key)
            tok = load_tokenizer(state.extras.get("tokenizer_name"))
            cached = (key, tok)
            state.extras["watermark"] = cached
    return cached


def check_text(state: WebState, text: str, *, windows: bool = False, mask: bool = False,
               z_threshold: float = 4.0) -> dict[str, Any]:
    """``railtrack.watermark.detect`` on ``text`` with the server's key; JSON-ready."""
    from ...watermark.detect import DEFAULT_WINDOWS, detect, token_mask
    from ...watermark.models import tokenizer_info

    key, tok = key_and_tokenizer(state)
    det = detect(text, key, tok, z_threshold=z_threshold, windows=DEFAULT_WINDOWS if windows else None)
    out = det.to_dict()
    out["params"] = key.params.to_dict()
    out["tokenizer"] = tokenizer_info(tok)
    if mask:
        out["token_mask"] = token_mask(text, key, tok)
    return out


@router.get("", summary="Whether the text check is on, and with which key and tokenizer")
def api_status(request: Request) -> dict[str, Any]:
    state = get_state(request)
    if not enabled(state):
        return {"enabled": False}
    key, tok = key_and_tokenizer(state)
    from ...watermark.models import tokenizer_info

    return {"enabled": True, "key_fingerprint": key.fingerprint, "params": key.params.to_dict(),
            "tokenizer": tokenizer_info(tok)}


@router.post("/detect", summary="Test a text for the watermark")
def api_detect(request: Request, body: CheckIn = Body(...)) -> dict[str, Any]:
    """``{watermarked, z_score, p_value, tokens_scored, green_fraction, key_fingerprint, ...}``;
    the p-value is the exact binomial tail. 404 when the server has no watermark key."""
    return check_text(get_state(request), body.text, windows=body.windows, mask=body.mask,
                      z_threshold=body.z_threshold)
