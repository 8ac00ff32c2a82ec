"""Plugin hooks (pluggy), discovered through the ``railtrack`` entry-point group.

A plugin is any installed distribution that declares, in its ``pyproject.toml``::

    [project.entry-points.railtrack]
    myplugin = "my_package.railtrack_plugin"

and implements one or more of the hooks below with ``@railtrack.plugins.hookimpl``.
railtrack's own built-in data (clause catalogue, license registry, obligation rules) is
loaded through the same hooks, so a plugin extends exactly what the built-ins provide.
"""

from __future__ import annotations

import functools
from typing import Any

import pluggy

PROJECT = "railtrack"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Hookspecs:
    @hookspec
    def railtrack_clause_catalogues(self) -> list[Any]:  # type: ignore[empty-body]
        """Return paths (or parsed dicts) of extra clause catalogue files (YAML).

        Each file has the same layout as the built-in ``catalog/clauses.yaml``.
        """

    @hookspec
    def railtrack_licenses(self) -> list[Any]:  # type: ignore[empty-body]
        """Return extra known-license registry entries (dicts or paths of YAML files)."""

    @hookspec
    def railtrack_obligation_rules(self) -> list[Any]:  # type: ignore[empty-body]
        """Return extra obligation rules (rule objects, dicts, or paths of YAML rule files)."""


@functools.lru_cache(maxsize=1)
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with entry-point plugins loaded once."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(Hookspecs)
    pm.load_setuptools_entrypoints(PROJECT)
    return pm


def reset_plugin_manager() -> None:
    """Forget the cached manager (tests that install a plugin call this)."""
    get_plugin_manager.cache_clear()


def collect(hook_name: str) -> list[Any]:
    """Call ``hook_name`` on every plugin and flatten the returned lists."""
    hook = getattr(get_plugin_manager().hook, hook_name)
    out: list[Any] = []
    for result in hook():
        if result:
            out.extend(result)
    return out
