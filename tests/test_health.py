"""GET /health against the real services, and what it says when one is down: up/down for
everyone, versions and error messages (internal hosts and ports) only for a live API key."""

import pytest
from fastapi.testclient import TestClient

from core.settings import get_settings
from stylecat.api import app


def test_health_reports_every_service_up_and_details_only_to_a_key(auth: dict[str, str]) -> None:
    anonymous = TestClient(app).get("/health")
    assert anonymous.status_code == 200, anonymous.text
    assert anonymous.json() == {
        "status": "ok",
        "services": {name: {"ok": True} for name in ("postgres", "redis", "opensearch")},
    }
    detailed = TestClient(app).get("/health", headers=auth).json()
    assert detailed["services"]["opensearch"]["version"].startswith("opensearch ")
    assert TestClient(app).get("/health", headers={"Authorization": "Bearer sc_not-a-key"}).json() == anonymous.json()


def test_health_is_503_and_names_the_service_that_is_down(
    monkeypatch: pytest.MonkeyPatch, auth: dict[str, str]
) -> None:
    monkeypatch.setenv("STYLECAT_OPENSEARCH_URL", "http://127.0.0.1:1")  # nothing listens on port 1
    get_settings.cache_clear()
    try:
        anonymous = TestClient(app).get("/health")
        detailed = TestClient(app).get("/health", headers=auth)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert anonymous.status_code == detailed.status_code == 503
    assert anonymous.json()["services"]["opensearch"] == {"ok": False}  # no host, port or exception text
    assert anonymous.json()["services"]["postgres"] == {"ok": True}
    assert detailed.json()["services"]["opensearch"]["error"]  # what went wrong, for an operator
