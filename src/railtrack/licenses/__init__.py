"""The behavioral-use license generator: manifest, renderers, store recording.

Public API::

    from railtrack.licenses import LicenseSpec, render, license_id, title, spdx_id, FORMATS
    spec = LicenseSpec(name="Acme", licensor="Acme Labs", flavor="open", artifacts=["model"],
                       restrictions=["military.military-use"])
    render(spec, "md")      # -> bytes
    license_id(spec)        # -> "rt-" + 12 hex digits
"""

from __future__ import annotations

from .diff import LicenseDiff, diff_specs
from .manifest import (
    ARTIFACTS,
    FLAVORS,
    TEMPLATE_VERSION,
    CustomRestriction,
    LicenseSpec,
    card_slug,
    json_schema,
    license_id,
    load_manifest,
    parse_manifest,
    rail_name,
    spdx_id,
    title,
)
from .render import EXTENSIONS, FORMATS, KIT_FILES, TEXT_FORMATS, release_kit, render

__all__ = [
    "ARTIFACTS",
    "EXTENSIONS",
    "FLAVORS",
    "FORMATS",
    "KIT_FILES",
    "TEMPLATE_VERSION",
    "TEXT_FORMATS",
    "CustomRestriction",
    "LicenseDiff",
    "LicenseSpec",
    "card_slug",
    "diff_specs",
    "json_schema",
    "license_id",
    "load_manifest",
    "parse_manifest",
    "rail_name",
    "release_kit",
    "render",
    "spdx_id",
    "title",
]
