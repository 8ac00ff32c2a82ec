"""The railtrack web app (FastAPI): license generator, adoption dashboard, model audit, JSON API.

``create_app(db=None, ...)`` builds the app on a store; ``railtrack serve`` runs it with
uvicorn, ``railtrack demo`` on the bundled sample store. See ``docs/web.md``.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
