"""/docs and /redoc render without internet: every script, style and icon they load is served by
the API itself (#15 item 5). Before, both pages loaded Swagger UI and ReDoc from a CDN and were
blank offline."""

import re

import pytest
from fastapi.testclient import TestClient

from stylecat.api import app

pytestmark = pytest.mark.unit

TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_only_what_the_api_serves(page: str) -> None:
    client = TestClient(app)
    html = client.get(page)
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html.text)
    assert assets, html.text
    assert not [url for url in assets if "://" in url or url.startswith("//")], f"loaded from elsewhere: {assets}"
    for url in assets:
        response = client.get(url)
        assert response.status_code == 200, url
        assert TYPES[url[url.rfind(".") :]] in response.headers["content-type"], url
        assert len(response.content) > 500, url
    assert "/openapi.json" in html.text and client.get("/openapi.json").json()["info"]["title"] == "stylecat"


def test_the_docs_assets_say_where_they_come_from() -> None:
    from stylecat.api.docs import ASSETS

    readme = (ASSETS / "README.md").read_text()
    assert "swagger-ui-dist` 5.35.0" in readme and "redoc` 2.5.2" in readme
    assert (ASSETS / "SWAGGER-UI-LICENSE").exists() and (ASSETS / "REDOC-LICENSE").exists()
