"""Routers of the web app: ``api_*`` modules serve JSON under ``/api``, ``pages`` serves HTML."""

from . import api_catalog, api_licenses, api_models, api_reports, api_watermark, pages

ROUTERS = [api_catalog.router, api_licenses.router, api_models.router, api_reports.router, api_watermark.router,
           pages.router]
