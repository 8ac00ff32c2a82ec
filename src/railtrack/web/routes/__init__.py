"""Routers of the web app: ``api_*`` modules serve JSON under ``/api``, ``pages`` serves HTML."""

from . import api_catalog, pages

ROUTERS = [api_catalog.router, pages.router]
