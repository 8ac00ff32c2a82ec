"""OpenAPI-driven fuzzing of the JSON API with schemathesis: no input may cause a 5xx.

Runs in-process over ASGI against an app on a store that holds the real Hub sample and a
few licenses, so that generated ids sometimes hit real rows. The number of examples per
operation is bounded so the whole run takes about a minute on the 2-core machine.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from railtrack.web import create_app

EXAMPLES = 40


# The schema is read from the app at import time (cheap: an in-memory store); the store is
# filled with the real sample by a module fixture before the first request.
APP = create_app(":memory:", rate_limit=0)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def sample_data():
    from railtrack.sample import populate

    if not APP.state.railtrack.con.execute("SELECT count(*) FROM models").fetchone()[0]:
        populate(APP.state.railtrack.con)


@pytest.fixture
def api_schema():
    return schema


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_never_answers_5xx(case):
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance, content_type_conformance])


def test_schema_documents_the_required_operations(api_schema):
    raw = api_schema.raw_schema
    paths = raw["paths"]
    assert "post" in paths["/api/licenses"]
    assert "get" in paths["/api/licenses/{license_id}"]
    fmt = next(p for p in paths["/api/licenses/{license_id}"]["get"]["parameters"] if p["name"] == "format")
    assert set(fmt["schema"]["enum"]) == {"md", "txt", "html", "tex", "pdf", "json", "card", "notice", "badge"}
    assert "get" in paths["/api/catalog"]
    assert "get" in paths["/api/reports/adoption"]
    assert "get" in paths["/api/models/{model_id}/audit"]
    body = paths["/api/licenses"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"name", "licensor", "flavor", "artifacts", "restrictions", "custom_restrictions"} <= set(body["properties"])
    assert body["additionalProperties"] is False
