"""A web page with a bad address answers with a page that says what is wrong, not with the JSON
the API answers (before, `/?style=watercolour` showed FastAPI's 422 JSON in the browser)."""

import pytest
from fastapi.testclient import TestClient

from stylecat.api import app

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/?style=watercolour", "style"),
        ("/?min_confidence=2", "min_confidence"),
        ("/?page=0", "page"),
        ("/ui/models?window=2d", "window"),
        ("/ui/images/abc", "image_id"),
    ],
)
def test_a_bad_page_address_gets_a_page(path: str, says: str) -> None:
    answer = TestClient(app).get(path)
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    assert 'id="page-error"' in answer.text and says in answer.text and "Back to the gallery" in answer.text


def test_the_api_keeps_its_json_errors() -> None:
    answer = TestClient(app).get("/search?size=1000")
    assert answer.status_code == 422 and answer.json()["detail"]
