"""The bundled sample store that ``railtrack demo`` serves.

It holds the hub engineer's bundled real sample of Hugging Face Hub family trees
(``railtrack.hub.sample.sample_paths()``: real model metadata, cards and lineage), a
handful of licenses made with the generator, and a watchlist entry with one watch run, so
that a newcomer sees a working dashboard, model audit and watchlist at once.

The store is built once into the user data directory, atomically: it is written to a
temporary file beside the target and renamed into place only when complete, so an
interrupted build never leaves a half-built store behind. Its file name carries the
sample version and the store schema version, so a newer railtrack builds a fresh one.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from .config import data_dir
from .errors import InputError

#: Bump when the sample's content changes.
SAMPLE_VERSION = 1

#: The model the sample's watchlist follows (the base of the largest bundled family tree).
SAMPLE_WATCHED = "meta-llama/Llama-2-7b-chat-hf"

#: Licenses generated into the sample store: a spread of flavors, artifacts and clauses,
#: so that the clause-configuration report has something to compare.
SAMPLE_LICENSES: list[dict[str, Any]] = [
    {
        "name": "Aurora-7B", "licensor": "Aurora Research Collective", "flavor": "open",
        "artifacts": ["model", "source"],
        "restrictions": ["military.military-use", "health.medical-advice", "legal.automated-binding-decisions"],
    },
    {
        "name": "Kestrel Vision", "licensor": "Kestrel Labs GmbH", "flavor": "open",
        "artifacts": ["application", "model", "source"],
        "restrictions": ["biometrics.remote-identification", "privacy.tracking-surveillance", "military.military-use"],
    },
    {
        "name": "Orca-Med", "licensor": "Orca Health AI", "flavor": "research",
        "artifacts": ["model", "data"],
        "restrictions": ["health.medical-advice", "research.human-subjects"],
    },
    {
        "name": "Pinecrest Speech", "licensor": "Pinecrest University", "flavor": "rail",
        "artifacts": ["model"],
        "restrictions": ["disinformation.impersonation", "biometrics.remote-identification"],
    },
    {
        "name": "Tidal-3B", "licensor": "Tidal Open Models", "flavor": "open",
        "artifacts": ["model", "source"],
        "restrictions": ["military.military-use", "health.medical-advice"],
    },
    {
        "name": "Lumen Data", "licensor": "Lumen Data Trust", "flavor": "open",
        "artifacts": ["data"],
        "restrictions": ["privacy.tracking-surveillance", "discrimination.essential-services"],
        "custom_restrictions": [{"text": "To re-identify any person represented in the data set.", "domain": "privacy"}],
    },
]


def sample_db_path() -> Path:
    """Where the sample store lives in the data dir: ``sample-v{N}-s{schema}-{digest}.duckdb``.

    The digest covers what the sample is made of (the bundled hub files, the clause
    catalogue and license template versions, the railtrack version), so an upgrade that
    changes any of them builds a fresh sample instead of serving a stale one.
    """
    import hashlib
    import json

    from . import __version__
    from .store.db import SCHEMA_VERSION

    parts: dict[str, Any] = {"railtrack": __version__, "licenses": SAMPLE_LICENSES, "watched": SAMPLE_WATCHED}
    try:
        from .catalog.clauses import load_catalog
        from .hub.sample import sample_paths
        from .licenses.manifest import TEMPLATE_VERSION

        parts["catalog"] = load_catalog().version
        parts["template"] = TEMPLATE_VERSION
        parts["hub"] = [(p.name, p.stat().st_size) for p in sample_paths()]
    except (ImportError, OSError):  # pragma: no cover - a broken installation fails later, clearly
        pass
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return data_dir() / f"sample-v{SAMPLE_VERSION}-s{SCHEMA_VERSION}-{digest}.duckdb"


def sample_license_specs() -> list[Any]:
    """The sample licenses as :class:`railtrack.licenses.LicenseSpec` objects.

    Clause ids that the catalogue does not know (it may have been extended or trimmed) are
    dropped rather than failing the demo.
    """
    from .catalog.clauses import load_catalog
    from .licenses import LicenseSpec

    cat = load_catalog()
    specs = []
    for raw in SAMPLE_LICENSES:
        data = dict(raw)
        data["restrictions"] = [r for r in raw["restrictions"] if r in cat]
        specs.append(LicenseSpec.model_validate(data))
    return specs


def populate(con: Any, *, progress: bool = False) -> dict[str, Any]:
    """Fill an open (empty) store with the sample: hub trees, licenses, watchlist."""
    from .hub import import_paths
    from .hub.sample import sample_paths
    from .licenses import store as license_store

    paths = list(sample_paths())
    if not paths:
        raise InputError("the bundled hub sample is missing from this installation")
    if progress:
        print(f"railtrack: importing the bundled hub sample ({len(paths)} files) ...", file=sys.stderr)
    result = import_paths(con, paths, fmt="trees")
    ids = [license_store.record(con, spec) for spec in sample_license_specs()]
    summary: dict[str, Any] = {"import": result, "licenses": ids}
    with contextlib.suppress(ImportError):
        from .adherence import watch_add, watch_run

        watch_add(con, SAMPLE_WATCHED)
        summary["watch"] = watch_run(con)
    return summary


def build_sample_store(path: str | os.PathLike[str] | None = None, *, force: bool = False,
                       progress: bool = False) -> Path:
    """Build the sample store at ``path`` (default :func:`sample_db_path`) unless it exists.

    Returns the path. The build goes to a temporary file in the same folder, which is
    renamed into place when complete.
    """
    from .store import connect

    target = Path(path) if path is not None else sample_db_path()
    if target.exists() and not force:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {target.parent}: {exc.strerror or exc}") from None
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    try:
        con = connect(tmp)
        try:
            populate(con, progress=progress)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, target)
    except BaseException:
        for leftover in (tmp, Path(str(tmp) + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise
    if progress:
        print(f"railtrack: sample store ready at {target}", file=sys.stderr)
    return target
