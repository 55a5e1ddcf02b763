"""GET /images/{id}/predictions: every prediction of an image with its model version and role,
newest first."""

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from db.models import StylePrediction
from db.session import session_scope
from stylecat.api import app
from tests.web import MODEL, probabilities, seeded_catalogue


@pytest.fixture
def api() -> TestClient:
    return TestClient(app)


def test_predictions_come_newest_first_with_their_roles(
    api: TestClient, settings: Settings, clean_tables: None
) -> None:
    image_id, style = next(iter(seeded_catalogue(settings, per_style=1).items()))
    with session_scope() as session:
        for version, role in (("3", "shadow"), ("4", "canary")):
            session.add(
                StylePrediction(
                    image_id=image_id,
                    model_name=MODEL.name,
                    model_version=version,
                    role=role,
                    backend="local",
                    style="line_art",
                    probs=probabilities("line_art", 0.7),
                    confidence=0.7,
                )
            )
    answer = api.get(f"/images/{image_id}/predictions")
    assert answer.status_code == 200
    rows = answer.json()["predictions"]
    assert [(row["model_version"], row["role"]) for row in rows] == [("4", "canary"), ("3", "shadow"), ("2", "served")]
    assert rows[-1]["style"] == style and rows[-1]["probs"][style] == rows[-1]["confidence"]
    assert api.get("/images/987654321/predictions").status_code == 404
