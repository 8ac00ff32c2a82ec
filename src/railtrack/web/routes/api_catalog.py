"""``GET /api/catalog``: the clause catalogue the generator offers."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ...catalog.clauses import load_catalog
from ...errors import NotFoundError
from ._common import ERRORS, NOT_FOUND

router = APIRouter(prefix="/api", tags=["catalogue"], responses=ERRORS)


class ClauseOut(BaseModel):
    id: str
    domain: str
    title: str
    text: str
    baseline: bool
    sources: list[str]


class DomainOut(BaseModel):
    id: str
    title: str
    description: str


class CatalogOut(BaseModel):
    version: str
    domains: list[DomainOut]
    clauses: list[ClauseOut]


def catalog_payload(domain: str | None = None) -> dict:
    """The catalogue as plain data, optionally restricted to one domain."""
    cat = load_catalog()
    domains = cat.domains()
    if domain is not None and domain not in domains:
        raise NotFoundError(f"unknown domain {domain!r}; known domains: {', '.join(domains)}")
    wanted = [domain] if domain else domains
    info = cat.domain_info
    return {
        "version": cat.version,
        "domains": [
            {"id": d, "title": cat.domain_title(d), "description": info[d].description if d in info else ""}
            for d in wanted
        ],
        "clauses": [c.to_dict() for c in cat.clauses if c.domain in wanted],
    }


@router.get("/catalog", response_model=CatalogOut, responses=NOT_FOUND, summary="The clause catalogue")
def get_catalog(domain: str | None = Query(None, max_length=64, description="Only this restriction domain")) -> dict:
    """Every use restriction the generator offers, grouped by domain; ``baseline`` ones are mandatory."""
    return catalog_payload(domain)
