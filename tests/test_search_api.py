"""GET /search against the real OpenSearch: style filters, facets that ignore the style filter, errors."""

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from db.session import session_scope
from db.writes import add_review
from search.client import get_client
from search.indexer import index_pending
from stylecat.api import app
from tests.test_indexer import categorized

STYLES = ["flat", "flat", "flat", "3d", "3d", "hand_drawn", "line_art"]


@pytest.fixture(scope="module")
def api() -> TestClient:
    return TestClient(app)


@pytest.fixture
def indexed(settings: Settings, clean_tables: None) -> list[int]:
    client = get_client()
    for name in client.indices.get(index=f"{settings.opensearch_index}*"):
        client.indices.delete(index=name)
    ids = categorized(STYLES)
    with session_scope() as session:
        add_review(session=session, image_id=ids[0], style="flat", reviewer="ana")
    index_pending(session_factory=session_scope, client=client, alias=settings.opensearch_index)
    client.indices.refresh(index=settings.opensearch_index)
    return ids


def test_style_filter_returns_only_that_style_and_facets_ignore_it(api: TestClient, indexed: list[int]) -> None:
    body = api.get("/search", params={"style": ["3d", "line_art"]}).json()
    assert body["total"] == 3
    assert {hit["style"] for hit in body["hits"]} == {"3d", "line_art"}
    assert body["facets"]["style"] == {"3d": 2, "flat": 3, "hand_drawn": 1, "line_art": 1}


def test_facets_sum_to_the_total_and_follow_other_filters(api: TestClient, indexed: list[int]) -> None:
    everything = api.get("/search").json()
    assert everything["total"] == len(STYLES) == sum(everything["facets"]["style"].values())
    confident = api.get("/search", params={"min_confidence": 0.9}).json()
    assert confident["facets"]["style"] == {"3d": 2, "flat": 3, "hand_drawn": 1, "line_art": 0}
    reviewed = api.get("/search", params={"reviewed": "true"}).json()
    assert [hit["id"] for hit in reviewed["hits"]] == [indexed[0]]


def test_text_query_and_paging(api: TestClient, indexed: list[int]) -> None:
    body = api.get("/search", params={"q": "hand_drawn picture"}).json()
    assert [hit["style"] for hit in body["hits"]] == ["hand_drawn"]
    page = api.get("/search", params={"size": 2, "page": 2}).json()
    assert len(page["hits"]) == 2 and page["total"] == len(STYLES)


@pytest.mark.parametrize(
    "params",
    [
        {"style": "watercolour"},
        {"size": 101},
        {"page": 0},
        {"page": "x"},
        {"min_confidence": 2},
        {"q": "x" * 201},
        {"page": 1000, "size": 100},
        {"style": ["flat"] * 5},
    ],
)
def test_bad_parameters_answer_422(api: TestClient, params: dict[str, object]) -> None:
    response = api.get("/search", params=params)
    assert response.status_code == 422, response.text


def test_query_text_is_never_parsed_as_query_dsl(api: TestClient, indexed: list[int]) -> None:
    response = api.get("/search", params={"q": 'style:3d OR *) AND {"match_all": {}}'})
    assert response.status_code == 200 and response.json()["total"] == 0
