"""A small real sample of Hub family trees, bundled for the demo store and the docs.

Source: github.com/hamidahoderinwale/model_metadata_analyses, commit 48e8523 (Hub
metadata collected in April 2025). See ``README.md`` in this folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def sample_paths() -> list[Path]:
    """The bundled family-tree CSV files (bloom, Llama-2-7b-chat-hf, phi-2, stable-diffusion-2-1)."""
    folder = Path(str(resources.files("railtrack.hub.sample")))
    return sorted(folder.glob("*_finetunes_*.csv"))
