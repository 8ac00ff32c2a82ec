"""The license manifest (:class:`LicenseSpec`) and everything derived from it alone.

A manifest is the complete, canonical description of a generated license: who licenses
what, under which flavor, with which use restrictions. Validation canonicalises it
(artifacts in RAIL order D, A, M, S; catalogue restrictions deduplicated, baseline clauses
added and sorted in catalogue order), so two manifests that mean the same license are
equal, have the same :func:`license_id` and render to the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..catalog.clauses import load_catalog
from ..errors import InputError

__all__ = [
    "ARTIFACTS",
    "ARTIFACT_INITIALS",
    "ARTIFACT_LABELS",
    "COMPUTED_KEYS",
    "CUSTOM_MAX_CHARS",
    "CustomRestriction",
    "FLAVORS",
    "FLAVOR_NAMES",
    "LicenseSpec",
    "TEMPLATE_VERSION",
    "TEMPLATE_VERSIONS",
    "canonical_json",
    "card_slug",
    "json_schema",
    "license_id",
    "load_manifest",
    "parse_custom",
    "parse_manifest",
    "rail_name",
    "rejected_character",
    "spdx_id",
    "title",
    "validation_message",
]

#: Version of the legal text templates. Bump it whenever rendered wording changes, so that
#: a manifest always re-renders to the bytes it produced when it was made.
TEMPLATE_VERSION = "1.0"
TEMPLATE_VERSIONS = ("1.0",)

#: Artifact kinds in RAIL naming order (D, A, M, S).
ARTIFACTS: tuple[str, ...] = ("data", "application", "model", "source")
ARTIFACT_INITIALS = {"data": "D", "application": "A", "model": "M", "source": "S"}
ARTIFACT_LABELS = {"data": "Data", "application": "Application", "model": "Model", "source": "Source code"}

FLAVORS: tuple[str, ...] = ("open", "rail", "research")
#: RAIL naming of each flavor (the part of the title before the artifact suffix).
FLAVOR_NAMES = {"open": "OpenRAIL", "rail": "RAIL", "research": "RESEARCH-ONLY RAIL"}

CUSTOM_MAX_CHARS = 2000
NAME_MAX_CHARS = 200
TEXT_MAX_CHARS = 5000

#: Keys that the ``json`` format adds to the manifest; ignored (recomputed) when read back.
COMPUTED_KEYS = ("license_id", "title", "spdx_id")

_WS = re.compile(r"\s+")
_DOMAIN_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_URL_RE = re.compile(r"^https?://[^\s<>\"]+$")


def _one_line(value: str) -> str:
    return _WS.sub(" ", value).strip()


def _paragraphs(value: str) -> str:
    """Normalise free text: paragraphs separated by one blank line, spaces collapsed inside."""
    paras = [_one_line(p) for p in re.split(r"\n\s*\n", value.replace("\r\n", "\n"))]
    return "\n\n".join(p for p in paras if p)


def rejected_character(ch: str) -> str | None:
    """Why manifest text may not hold the character ``ch``, or ``None`` when it may.

    Refused: control characters other than line breaks and tabs ("a control character"),
    lone surrogates and Unicode noncharacters ("an invalid character") - characters no
    license text should hold and that XML, HTML and UTF-8 cannot carry. This is the one
    definition the validators (and the property tests' input strategies) use."""
    code = ord(ch)
    cat = unicodedata.category(ch)
    if cat == "Cc" and ch not in "\n\t\r":
        return "a control character"
    if cat == "Cs" or (code & 0xFFFE) == 0xFFFE or 0xFDD0 <= code <= 0xFDEF:
        return "an invalid character"
    return None


def _no_controls(value: str, what: str) -> str:
    """Refuse the characters :func:`rejected_character` names, with a message saying which."""
    for ch in value:
        why = rejected_character(ch)
        if why is not None:
            raise ValueError(f"{what} contains {why} (U+{ord(ch):04X})")
    return value


class CustomRestriction(BaseModel):
    """A use restriction written by the licensor, in addition to the catalogue ones."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    text: Annotated[str, Field(description="The restriction, completing 'You shall not use the Licensed "
                                           "Artifacts ...:'. One paragraph, 1 to 2,000 characters.",
                                json_schema_extra={"minLength": 1, "maxLength": CUSTOM_MAX_CHARS})]
    domain: Annotated[str, Field(default="general", description="Domain id (e.g. privacy); a catalogue "
                                                                 "domain or a new lowercase slug.",
                                                                 json_schema_extra={"pattern": "^[a-z][a-z0-9-]*$",
                                                                                    "maxLength": 40})]

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        v = _one_line(_no_controls(v, "custom restriction"))
        if not v:
            raise ValueError("custom restriction text is empty")
        if len(v) > CUSTOM_MAX_CHARS:
            raise ValueError(f"custom restriction is {len(v)} characters long; the limit is {CUSTOM_MAX_CHARS}")
        return v

    @field_validator("domain")
    @classmethod
    def _domain(cls, v: str) -> str:
        v = v.strip().lower()
        if not _DOMAIN_RE.match(v) or len(v) > 40:
            raise ValueError(f"invalid domain {v!r}: use a lowercase slug such as 'privacy'")
        return v


class LicenseSpec(BaseModel):
    """A behavioral-use license manifest.

    Example::

        LicenseSpec(name="Acme", licensor="Acme Labs", flavor="open",
                    artifacts=["model", "source"], restrictions=["military.military-use"])

    Baseline (mandatory) catalogue restrictions are always added; restriction ids are checked
    against the clause catalogue.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        title="railtrack license manifest",
        json_schema_extra={"$id": "urn:railtrack:schema:license-manifest"},
    )

    name: Annotated[str, Field(description="Name of the licensed artifact (e.g. the model name); used in the title.",
                               json_schema_extra={"minLength": 1, "maxLength": NAME_MAX_CHARS})]
    licensor: Annotated[str, Field(description="Who grants the license (person or organisation).",
                                   json_schema_extra={"minLength": 1, "maxLength": NAME_MAX_CHARS})]
    flavor: Annotated[Literal["open", "rail", "research"], Field(
        description="open = OpenRAIL (redistribution and derivatives allowed, restrictions passed on); "
                    "rail = RAIL (internal use only); research = RESEARCH-ONLY RAIL.")]
    artifacts: Annotated[list[Literal["data", "application", "model", "source"]], Field(
        description="Licensed artifact kinds; at least one. Stored in RAIL order data, application, model, source.",
        json_schema_extra={"minItems": 1, "uniqueItems": True})]
    restrictions: Annotated[list[str], Field(
        default_factory=list,
        validate_default=True,
        description="Catalogue clause ids (see `railtrack license catalog`); baseline clauses are always added.",
        json_schema_extra={"items": {"type": "string", "pattern": "^[a-z][a-z0-9-]*\\.[a-z0-9][a-z0-9-]*$"}})]
    custom_restrictions: Annotated[list[CustomRestriction], Field(
        default_factory=list, description="Restrictions written by the licensor.")]
    commercial_use: Annotated[bool | None, Field(
        default=None,
        description="Whether commercial use is permitted. Default: yes, except for the research flavor.")]
    notice: Annotated[str | None, Field(default=None, description="Attribution / copyright notice text that "
                                                                  "redistributors must keep (NOTICE file).",
                                                      json_schema_extra={"maxLength": TEXT_MAX_CHARS})]
    jurisdiction: Annotated[str | None, Field(default=None, description="Governing law, e.g. 'the State of New York'.",
                                                     json_schema_extra={"maxLength": NAME_MAX_CHARS})]
    url: Annotated[str | None, Field(default=None, description="Project URL (http or https).",
                                             json_schema_extra={"pattern": "^https?://[^\\s<>\"]+$",
                                                                "maxLength": 500})]
    info: Annotated[str | None, Field(default=None, description="Additional information shown after the terms.",
                                              json_schema_extra={"maxLength": TEXT_MAX_CHARS})]
    catalog_version: Annotated[str, Field(
        default_factory=lambda: load_catalog().version,
        description="Version of the clause catalogue the manifest was made with.")]
    template_version: Annotated[str, Field(
        default=TEMPLATE_VERSION, description="Version of the license text templates.",
        json_schema_extra={"enum": list(TEMPLATE_VERSIONS)})]

    # ---------------------------------------------------------------- field validation
    @field_validator("name", "licensor")
    @classmethod
    def _short_text(cls, v: str, info: ValidationInfo) -> str:
        v = _one_line(_no_controls(v, info.field_name or "value"))
        if not v:
            raise ValueError(f"{info.field_name} must not be empty")
        if len(v) > NAME_MAX_CHARS:
            raise ValueError(f"{info.field_name} is longer than {NAME_MAX_CHARS} characters")
        return v

    @field_validator("jurisdiction")
    @classmethod
    def _jurisdiction(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = _one_line(_no_controls(v, "jurisdiction"))
        if len(v) > NAME_MAX_CHARS:
            raise ValueError(f"jurisdiction is longer than {NAME_MAX_CHARS} characters")
        return v or None

    @field_validator("notice", "info")
    @classmethod
    def _long_text(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return None
        v = _paragraphs(_no_controls(v, info.field_name or "value"))
        if len(v) > TEXT_MAX_CHARS:
            raise ValueError(f"{info.field_name} is longer than {TEXT_MAX_CHARS} characters")
        return v or None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not _URL_RE.match(v) or len(v) > 500:
            raise ValueError(f"url must be an http:// or https:// address without spaces, got {v!r}")
        return v

    @field_validator("artifacts")
    @classmethod
    def _artifacts(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one artifact is required (application, model, source or data)")
        chosen = set(v)
        return [a for a in ARTIFACTS if a in chosen]

    @field_validator("restrictions")
    @classmethod
    def _restrictions(cls, v: list[str]) -> list[str]:
        cat = load_catalog()
        unknown = [r for r in v if r not in cat]
        if unknown:
            import difflib

            hint = difflib.get_close_matches(unknown[0], cat.ids(), n=1, cutoff=0.6)
            raise ValueError(
                f"unknown clause id {unknown[0]!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + "; see `railtrack license catalog`"
            )
        chosen = set(v) | {c.id for c in cat.baseline()}
        return sorted(chosen, key=cat.order)

    @field_validator("custom_restrictions")
    @classmethod
    def _customs(cls, v: list[CustomRestriction]) -> list[CustomRestriction]:
        cat = load_catalog()
        texts = {c.text for c in cat}
        out: list[CustomRestriction] = []
        seen: set[str] = set()
        for c in v:
            if c.text in texts:
                raise ValueError(
                    "a custom restriction repeats a catalogue clause word for word; select that clause instead"
                )
            if c.text not in seen:
                seen.add(c.text)
                out.append(c)
        return out

    @field_validator("template_version")
    @classmethod
    def _template(cls, v: str) -> str:
        if v not in TEMPLATE_VERSIONS:
            raise ValueError(
                f"template version {v!r} is not known to this railtrack (known: {', '.join(TEMPLATE_VERSIONS)})"
            )
        return v

    @field_validator("catalog_version")
    @classmethod
    def _catalog_version(cls, v: str) -> str:
        v = v.strip()
        if not v or len(v) > 40:
            raise ValueError("catalog_version must be a short version string")
        return v

    @model_validator(mode="after")
    def _defaults(self) -> "LicenseSpec":
        if self.commercial_use is None:
            object.__setattr__(self, "commercial_use", self.flavor != "research")
        return self

    # ---------------------------------------------------------------- conveniences
    def manifest(self) -> dict[str, Any]:
        """The manifest as plain JSON-compatible data (every field, canonical order)."""
        return self.model_dump(mode="json")

    @property
    def license_id(self) -> str:
        return license_id(self)

    @property
    def title(self) -> str:
        return title(self)

    def domains(self) -> list[str]:
        """Restricted domains (catalogue and custom), in catalogue domain order."""
        cat = load_catalog()
        used = {cat.get(r).domain for r in self.restrictions} | {c.domain for c in self.custom_restrictions}
        known = [d for d in cat.domains() if d in used]
        return known + sorted(used - set(known))


# -------------------------------------------------------------------- derived values
def canonical_json(spec: LicenseSpec) -> str:
    """The canonical JSON text of a manifest (sorted keys, no spaces, UTF-8)."""
    return json.dumps(spec.manifest(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def license_id(spec: LicenseSpec) -> str:
    """Deterministic license id: ``rt-`` + 12 hex digits of the SHA-256 of the canonical manifest."""
    return "rt-" + hashlib.sha256(canonical_json(spec).encode("utf-8")).hexdigest()[:12]


def rail_name(spec: LicenseSpec) -> str:
    """The RAIL license kind without the licensor's name, e.g. ``OpenRAIL-AMS``."""
    suffix = "".join(ARTIFACT_INITIALS[a] for a in spec.artifacts)
    return f"{FLAVOR_NAMES[spec.flavor]}-{suffix}"


def title(spec: LicenseSpec) -> str:
    """License title in RAIL naming, e.g. ``Acme OpenRAIL-AMS`` or ``Acme RESEARCH-ONLY RAIL-M``."""
    return f"{spec.name} {rail_name(spec)}"


def _ascii_slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-")


def card_slug(spec: LicenseSpec) -> str:
    """Lowercase slug for a Hugging Face card's ``license_name``, e.g. ``acme-openrail-ams``."""
    name = _ascii_slug(spec.name).lower()[:60].strip("-")
    kind = _ascii_slug(rail_name(spec)).lower()
    return f"{name}-{kind}" if name else f"{license_id(spec)}-{kind}"


def spdx_id(spec: LicenseSpec) -> str:
    """SPDX license reference, e.g. ``LicenseRef-Acme-OpenRAIL-AMS-rt-0123456789ab``.

    Only letters, digits, ``.`` and ``-`` (the SPDX ``idstring``); the license id makes it unique.
    """
    name = _ascii_slug(spec.name)[:60].strip("-")
    kind = _ascii_slug(rail_name(spec))
    parts = [p for p in (name, kind, license_id(spec)) if p]
    return "LicenseRef-" + "-".join(parts)


def parse_custom(text: str, domain: str | None = None) -> CustomRestriction:
    """A custom restriction from command-line text.

    ``"privacy: Do not scrape profiles"`` puts the restriction in the ``privacy`` domain when
    the part before the first colon names a catalogue domain (its id or title, any case);
    otherwise the whole text is the restriction, in ``domain`` (default ``general``).
    Raises :class:`InputError` for an empty or over-long text.
    """
    body = text
    chosen = domain
    head, sep, rest = text.partition(":")
    if sep and chosen is None:
        key = head.strip().lower().replace(" ", "-").replace("_", "-")
        cat = load_catalog()
        titles = {cat.domain_title(d).lower().replace(" ", "-"): d for d in cat.domains()}
        if key in cat.domains() or key in titles:
            chosen = key if key in cat.domains() else titles[key]
            body = rest
    try:
        return CustomRestriction(text=body, domain=chosen or "general")
    except ValidationError as exc:
        msg = validation_message(exc).removeprefix("invalid license manifest: ")
        msg = msg.split(": ", 1)[1] if msg.startswith(("text: ", "domain: ")) else msg
        raise InputError(f"invalid custom restriction: {msg}") from None


# -------------------------------------------------------------------- reading manifests
def validation_message(exc: ValidationError) -> str:
    """One readable line for a pydantic validation error."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        msg = err.get("msg", "invalid value")
        msg = msg.removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif err.get("type") == "missing":
            msg = "field required"
        elif err.get("type") == "literal_error":
            msg = msg.replace("Input should be", "must be")
        parts.append(f"{loc}: {msg}" if loc else msg)
    more = len(exc.errors()) - 3
    return "invalid license manifest: " + "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def parse_manifest(data: Any) -> LicenseSpec:
    """Validate manifest data (a dict, e.g. parsed JSON); raise :class:`InputError` with one line.

    The computed keys the ``json`` format adds (``license_id``, ``title``, ``spdx_id``) are
    ignored, so a rendered manifest reads back as itself.
    """
    if not isinstance(data, dict):
        raise InputError("invalid license manifest: expected a JSON object")
    data = {k: v for k, v in data.items() if k not in COMPUTED_KEYS}
    try:
        return LicenseSpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(validation_message(exc)) from None


def load_manifest(path: str | Path) -> LicenseSpec:
    """Read a manifest JSON file (as written by ``--format json``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"no such manifest file: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read manifest {p}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{p} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    return parse_manifest(data)


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of the manifest (``docs/manifest.schema.json``)."""
    schema = LicenseSpec.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    # the computed keys written by the json format are accepted on input
    props = schema.setdefault("properties", {})
    for key in COMPUTED_KEYS:
        props.setdefault(key, {"type": "string", "description": f"Computed ({key}); ignored on input.",
                               "readOnly": True})
    return schema
