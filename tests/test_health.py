"""GET /health against the real services, and what it says when one is down."""

import pytest
from fastapi.testclient import TestClient

from core.settings import get_settings
from stylecat.api import app


def test_health_reports_every_service_up() -> None:
    response = TestClient(app).get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["services"]["opensearch"]["version"].startswith("opensearch ")
    assert set(body["services"]) == {"postgres", "redis", "opensearch"}


def test_health_is_503_and_names_the_service_that_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STYLECAT_OPENSEARCH_URL", "http://127.0.0.1:1")  # nothing listens on port 1
    get_settings.cache_clear()
    try:
        response = TestClient(app).get("/health")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert response.status_code == 503
    body = response.json()
    assert body["services"]["opensearch"]["ok"] is False and body["services"]["postgres"]["ok"] is True
