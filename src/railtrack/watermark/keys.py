"""Watermark keys: a 256-bit secret plus the watermark parameters, stored in a 0600 file.

The secret never leaves this object except into the PRF: ``repr``/``str`` show only the
fingerprint, reports carry only the fingerprint, and the key file is written atomically
with mode 0600.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._io import atomic_write
from ..errors import InputError, NotFoundError, UsageError
from .prf import PRF_VERSION, SEEDING_SCHEMES, derive_words

KEY_FORMAT = "railtrack-watermark-key"
KEY_FORMAT_VERSION = 1


@dataclass(frozen=True)
class WatermarkParams:
    """Watermark parameters: green fraction ``gamma``, logit bias ``delta``, context width
    ``h`` (tokens hashed to seed the green list) and seeding scheme."""

    gamma: float = 0.25
    delta: float = 2.0
    context_width: int = 1
    seeding: str = "lefthash"

    def __post_init__(self) -> None:
        if not 0.0 < self.gamma < 1.0:
            raise UsageError(f"gamma must be between 0 and 1 (exclusive), got {self.gamma}")
        if not self.delta >= 0.0:
            raise UsageError(f"delta must be >= 0, got {self.delta}")
        if not 1 <= int(self.context_width) <= 16:
            raise UsageError(f"context width must be between 1 and 16, got {self.context_width}")
        if self.seeding not in SEEDING_SCHEMES:
            raise UsageError(f"seeding scheme must be one of {', '.join(SEEDING_SCHEMES)}, got {self.seeding!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"gamma": self.gamma, "delta": self.delta, "context_width": int(self.context_width),
                "seeding": self.seeding, "prf_version": PRF_VERSION}


@dataclass(frozen=True)
class WatermarkKey:
    """A secret key and the parameters it watermarks with."""

    secret: bytes = field(repr=False)
    params: WatermarkParams = field(default_factory=WatermarkParams)

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise InputError("watermark key secret is too short (need at least 16 bytes)")
        object.__setattr__(self, "_words", derive_words(self.secret))

    # -- identity -------------------------------------------------------------
    @property
    def words(self) -> tuple[int, int, int, int]:
        """The PRF words derived from the secret (used by the PRF only)."""
        return self._words  # type: ignore[attr-defined]

    @property
    def fingerprint(self) -> str:
        """A public identifier of the secret: ``rtwm-`` + 16 hex digits of a domain-separated SHA-256."""
        return "rtwm-" + hashlib.sha256(b"railtrack-watermark-fingerprint-v1\0" + self.secret).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"WatermarkKey(fingerprint={self.fingerprint!r}, params={self.params!r})"

    __str__ = __repr__

    # -- parameters -----------------------------------------------------------
    @property
    def gamma(self) -> float:
        return self.params.gamma

    @property
    def delta(self) -> float:
        return self.params.delta

    @property
    def context_width(self) -> int:
        return int(self.params.context_width)

    @property
    def seeding(self) -> str:
        return self.params.seeding

    def with_params(self, **changes: Any) -> "WatermarkKey":
        """The same secret with some parameters changed (e.g. ``gamma=0.5``)."""
        return WatermarkKey(self.secret, replace(self.params, **changes))

    # -- construction and files -----------------------------------------------
    @classmethod
    def generate(cls, **params: Any) -> "WatermarkKey":
        """A fresh key from the operating system's CSPRNG (256 bits)."""
        return cls(secrets.token_bytes(32), WatermarkParams(**params))

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the key file (JSON, mode 0600, atomic). Refuses to overwrite unless asked."""
        target = Path(path)
        if target.exists() and not overwrite:
            raise UsageError(f"{target} exists; pass --force to overwrite it")
        doc = {"format": KEY_FORMAT, "version": KEY_FORMAT_VERSION, "fingerprint": self.fingerprint,
               "secret": self.secret.hex(), "params": self.params.to_dict()}
        return atomic_write(target, json.dumps(doc, indent=2) + "\n", mode=0o600)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "WatermarkKey":
        """Read a key file written by :meth:`save` (or ``railtrack watermark keygen``)."""
        source = Path(path)
        if not source.is_file():
            raise NotFoundError(f"watermark key file {source} does not exist")
        try:
            doc = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise InputError(f"{source} is not a railtrack watermark key file") from None
        if not isinstance(doc, dict) or doc.get("format") != KEY_FORMAT:
            raise InputError(f"{source} is not a railtrack watermark key file")
        if doc.get("version") != KEY_FORMAT_VERSION:
            raise InputError(f"{source}: unsupported key file version {doc.get('version')!r}")
        try:
            secret = bytes.fromhex(str(doc["secret"]))
            p = dict(doc.get("params") or {})
            if int(p.pop("prf_version", PRF_VERSION)) != PRF_VERSION:
                raise InputError(f"{source}: key made for another PRF version")
            params = WatermarkParams(gamma=float(p.get("gamma", 0.25)), delta=float(p.get("delta", 2.0)),
                                     context_width=int(p.get("context_width", 1)),
                                     seeding=str(p.get("seeding", "lefthash")))
        except (KeyError, ValueError, TypeError):
            raise InputError(f"{source}: malformed watermark key file") from None
        except UsageError as exc:
            raise InputError(f"{source}: {exc.message}") from None
        key = cls(secret, params)
        if doc.get("fingerprint") not in (None, key.fingerprint):
            raise InputError(f"{source}: fingerprint does not match the secret (file corrupted?)")
        return key
