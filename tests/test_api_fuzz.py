"""Fuzz the HTTP API from its own OpenAPI schema (schemathesis): the upload, register, review and
search routes never answer 5xx, whatever they are sent (valid, invalid, missing credentials)."""

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from stylecat.api import app


@schemathesis.hook
def before_load_schema(context: Any, raw_schema: dict[str, Any]) -> None:
    """FastAPI describes file parts without `format: binary`, so schemathesis would send short text
    only; with it, the upload is fuzzed with arbitrary bytes and tiny real images too."""
    for component in raw_schema.get("components", {}).get("schemas", {}).values():
        for prop in component.get("properties", {}).values():
            if prop.get("contentMediaType") == "application/octet-stream":
                prop.setdefault("format", "binary")


schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(
    path=["/images", "/images/register", "/images/{image_id}/review", "/search"],
)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_route_answers_5xx(case: schemathesis.Case, auth: dict[str, str]) -> None:
    case.call_and_validate(headers=auth, checks=[not_a_server_error])
