"""GET /reviews/queue: unreviewed images in the order a reviewer needs them (its keys are checked
in test_access.py); a review records the key that made it."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.settings import Settings
from db.models import Scope, StylePrediction, StyleReview
from db.session import session_scope
from producer.apikeys import issue_key
from stylecat.api import app
from tests.web import MODEL, seeded_catalogue


@pytest.fixture
def catalogue(settings: Settings, clean_tables: None) -> dict[int, str]:
    return seeded_catalogue(settings)


@pytest.fixture(scope="module")
def reviewer() -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {issue_key('queue reviewer', [Scope.REVIEW])}"})


def _queue(client: TestClient, **params: object) -> list[dict[str, object]]:
    answer = client.get("/reviews/queue", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_least_confident_first_never_a_reviewed_image(reviewer: TestClient, catalogue: dict[int, str]) -> None:
    items = _queue(reviewer, size=100)
    confidences = [item["confidence"] for item in items]
    assert len(items) == len(catalogue) and confidences == sorted(confidences)
    first = items[0]
    assert first["thumbnail"] == f"/images/{first['id']}/thumbnail?size=512" and set(first["probs"]) == {
        "3d",
        "flat",
        "hand_drawn",
        "line_art",
    }
    answer = reviewer.post(f"/images/{first['id']}/review", json={"style": "flat", "reviewer": "ana"})
    assert answer.status_code == 200
    again = _queue(reviewer, size=100)
    assert first["id"] not in [item["id"] for item in again] and len(again) == len(catalogue) - 1
    with session_scope() as session:
        review = session.scalars(select(StyleReview).where(StyleReview.image_id == first["id"])).one()
        assert review.api_key_id is not None and review.reviewer == "ana"


def test_style_exclude_and_random(reviewer: TestClient, catalogue: dict[int, str]) -> None:
    flat = _queue(reviewer, style="flat", size=100)
    assert {item["style"] for item in flat} == {"flat"} and len(flat) == 4
    rest = _queue(reviewer, style="flat", exclude=[flat[0]["id"], flat[1]["id"]])
    assert [item["id"] for item in rest] == [item["id"] for item in flat[2:]]
    sample = _queue(reviewer, strategy="random", size=5)
    assert len(sample) == 5 and {item["id"] for item in sample} <= set(catalogue)


def test_disagreement_lists_images_whose_shadow_prediction_differs(
    reviewer: TestClient, catalogue: dict[int, str]
) -> None:
    assert _queue(reviewer, strategy="disagreement") == []  # no challenger has predicted yet
    agrees, differs = list(catalogue)[:2]
    with session_scope() as session:
        for image_id, style in (
            (agrees, catalogue[agrees]),
            (differs, "line_art" if catalogue[differs] != "line_art" else "3d"),
        ):
            session.add(
                StylePrediction(
                    image_id=image_id,
                    model_name=MODEL.name,
                    model_version="3",
                    role="shadow",
                    backend="local",
                    style=style,
                    probs={style: 1.0},
                    confidence=1.0,
                )
            )
    assert [item["id"] for item in _queue(reviewer, strategy="disagreement")] == [differs]


@pytest.mark.parametrize(
    "params", [{"strategy": "newest"}, {"style": "watercolour"}, {"size": 0}, {"size": 101}, {"exclude": "x"}]
)
def test_bad_parameters_answer_422(reviewer: TestClient, clean_tables: None, params: dict[str, object]) -> None:
    assert reviewer.get("/reviews/queue", params=params).status_code == 422
