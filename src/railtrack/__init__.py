"""railtrack: write, read, track and enforce behavioral-use AI licenses.

The public Python API is re-exported here lazily, so ``import railtrack`` stays cheap::

    import railtrack
    spec = railtrack.LicenseSpec(name="Acme", licensor="Acme Labs", flavor="open",
                                 artifacts=["model"])
    text = railtrack.render(spec, "md")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it. Each capability adds its public names here.
_EXPORTS: dict[str, str] = {
    "identify_text": "railtrack.identify",
    "identify_paths": "railtrack.identify",
    "extract_clauses": "railtrack.identify",
    "parse_generated": "railtrack.identify",
    "load_registry": "railtrack.catalog.registry",
    "is_behavioral_use": "railtrack.catalog.registry",
    "compare_weights": "railtrack.provenance",
    "scan_weights": "railtrack.provenance",
    "LicenseSpec": "railtrack.licenses",
    "render": "railtrack.licenses",
    "license_id": "railtrack.licenses",
    "load_catalog": "railtrack.catalog.clauses",
    "LineageGraph": "railtrack.adherence.lineage",
    "audit": "railtrack.adherence.audit",
    "watch_add": "railtrack.adherence.watch",
    "watch_run": "railtrack.adherence.watch",
    "import_paths": "railtrack.hub",
    "sync": "railtrack.hub",
    "parse_card": "railtrack.hub",
    "adoption": "railtrack.reports",
    "licenses_report": "railtrack.reports",
    "clauses_report": "railtrack.reports",
    "create_app": "railtrack.web",
    "build_sample_store": "railtrack.sample",
    "WatermarkKey": "railtrack.watermark",
    "WatermarkLogitsProcessor": "railtrack.watermark",
    "detect_watermark": "railtrack.watermark",
    "scan_watermark": "railtrack.watermark",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'railtrack' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))
