"""The challenger beside the champion (#11 item 3): shadow predictions are stored and change nothing,
canary images are served by the challenger, and which images get which is fixed by the image id.

The registry is a private MLflow store holding the shipped versions: the champion (the newest) and
the synthetic-only v1, set as the challenger; they answer differently."""

from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from core.settings import Settings, get_settings
from db.models import Image, PredictionRole, StylePrediction
from db.session import session_scope
from model import registry
from model.registry import CHAMPION_DIR, SHIPPED
from tests.conftest import registry_copy
from tests.factories import CHAMPION, history_by_role
from tests.faults import catalogue
from tests.processes import serving
from worker.categorize import categorize
from worker.challenger import challenger_roles
from worker.local import LocalClassifier
from worker.sagemaker import SageMakerClassifier

SHADOW, CANARY = PredictionRole.SHADOW, PredictionRole.CANARY


@pytest.mark.unit
def test_the_roles_follow_the_fractions_and_stay_with_each_image() -> None:
    ids = range(1, 20_001)
    roles = challenger_roles(ids, shadow=0.5, canary=0.1)
    counts = Counter(roles.values())
    assert counts[CANARY] == pytest.approx(2_000, rel=0.08)
    assert counts[SHADOW] == pytest.approx(9_000, rel=0.05)  # half of those the canary leaves
    assert challenger_roles(reversed(ids), shadow=0.5, canary=0.1) == roles  # by id, not by order or batch
    wider = challenger_roles(ids, shadow=0.8, canary=0.1)
    assert {i for i, r in roles.items() if r == SHADOW} < {i for i, r in wider.items() if r == SHADOW}
    assert challenger_roles(ids, shadow=0, canary=0) == {}
    assert set(challenger_roles(ids, shadow=1, canary=0).values()) == {SHADOW}
    assert len(challenger_roles(ids, shadow=1, canary=0)) == len(ids)


@pytest.fixture
def registry_with_challenger(shipped_registry: Path, tmp_path: Path, settings: Settings) -> Iterator[Settings]:
    own = settings.model_copy(update={"mlflow_tracking_uri": registry_copy(shipped_registry, tmp_path)})
    client = registry.configure(own)
    assert registry.resolve(client, "models:/style-cnn@champion").version == CHAMPION
    registry.promote(client, own.model_name, "1", "challenger")
    yield own
    registry.configure(get_settings())


def _images(ids: list[int]) -> dict[int, Image]:
    with session_scope() as session:
        rows = session.scalars(select(Image).where(Image.id.in_(ids))).all()
        session.expunge_all()
    return {row.id: row for row in rows}


def test_shadow_changes_nothing_and_the_canary_serves(clean_tables: None, registry_with_challenger: Settings) -> None:
    own = registry_with_challenger.model_copy(update={"shadow_fraction": 0.5, "canary_fraction": 0.25})
    ids = catalogue(48, own)
    classifier = LocalClassifier(own)
    summary = categorize(image_ids=ids, classifier=classifier, settings=own, session_factory=session_scope)
    roles = challenger_roles(ids, shadow=0.5, canary=0.25)
    assert sorted(summary.categorized) == sorted(ids) and not summary.failed and summary.challenger_error is None
    assert sorted(summary.canary) == sorted(i for i, r in roles.items() if r == CANARY)
    assert sorted(summary.shadow) == sorted(i for i, r in roles.items() if r == SHADOW)
    assert 0 < len(summary.canary) < len(ids) and 0 < len(summary.shadow) < len(ids)

    history, images = history_by_role(ids), _images(ids)
    for image_id in ids:
        image, role = images[image_id], roles.get(image_id)
        if role == CANARY:  # the challenger set the style, and the image says which version did
            assert history[image_id] == {"canary": ("1", image.style)} and image.model_version == "1"
        else:  # the champion set the style; a shadow prediction beside it changed nothing
            assert history[image_id]["served"] == (CHAMPION, image.style) and image.model_version == CHAMPION
            assert set(history[image_id]) == ({"served", "shadow"} if role == SHADOW else {"served"})
        assert image.index_version == 2  # one write that search sees, shadow or not
    shadows = [history[i]["shadow"] for i in summary.shadow]
    assert {version for version, _ in shadows} == {"1"}
    with session_scope() as session:  # the shadow is the challenger's own answer, not a copy of the served one
        confidence = {
            (row.image_id, row.role): row.confidence
            for row in session.scalars(select(StylePrediction).where(StylePrediction.image_id.in_(summary.shadow)))
        }
    assert all(confidence[i, "shadow"] != pytest.approx(confidence[i, "served"], abs=1e-6) for i in summary.shadow)

    again = categorize(image_ids=ids, classifier=classifier, settings=own, session_factory=session_scope)
    assert again.skipped == len(ids)  # each image is settled by the model that serves it, canary or not


def test_without_a_challenger_the_champion_serves_alone(clean_tables: None, registry_with_challenger: Settings) -> None:
    own = registry_with_challenger.model_copy(
        update={"shadow_fraction": 1.0, "canary_fraction": 0.5, "model_recheck_interval": 0.01}
    )
    classifier = LocalClassifier(own)
    assert classifier.current_challenger() is not None
    registry.configure(own).delete_registered_model_alias(own.model_name, "challenger")
    ids = catalogue(12, own)
    summary = categorize(image_ids=ids, classifier=classifier, settings=own, session_factory=session_scope)
    assert classifier.current_challenger() is None  # the alias was removed: the loaded one is let go
    assert len(summary.categorized) == 12 and not summary.shadow and not summary.canary
    assert summary.challenger_error is None
    assert {role for roles in history_by_role(ids).values() for role in roles} == {"served"}
    assert {image.model_version for image in _images(ids).values()} == {CHAMPION}


def test_the_sagemaker_backend_sends_the_challengers_images_to_its_endpoint(
    clean_tables: None, settings: Settings, tmp_path: Path
) -> None:
    """Two real inference servers, the corpus champion and v1 (`local:<folder>` versions). Then the
    challenger's endpoint goes away in the middle of things: the champion serves its canary images,
    which count as the canary's failures (the canary watch halts it on them)."""
    with ExitStack() as stack:
        champion = stack.enter_context(_endpoint(CHAMPION_DIR, tmp_path / "champion.log"))
        challenger = ExitStack()
        other = challenger.enter_context(_endpoint(SHIPPED[0][1], tmp_path / "challenger.log"))
        stack.push(challenger)
        own = settings.model_copy(
            update={
                "classifier": "sagemaker",
                "sagemaker_endpoint_url": champion,
                "sagemaker_challenger_endpoint": "stylecat-challenger",
                "sagemaker_challenger_endpoint_url": other,
                "shadow_fraction": 0.5,
                "canary_fraction": 0.25,
            }
        )
        classifier = SageMakerClassifier(own)
        ids = catalogue(24, own)
        summary = categorize(image_ids=ids, classifier=classifier, settings=own, session_factory=session_scope)
        roles = challenger_roles(ids, shadow=0.5, canary=0.25)
        assert sorted(summary.canary) == sorted(i for i, r in roles.items() if r == CANARY) != []
        assert sorted(summary.shadow) == sorted(i for i, r in roles.items() if r == SHADOW) != []
        history = history_by_role(ids)
        assert {v for h in history.values() for r, (v, _) in h.items() if r == "served"} == {"local:champion"}
        assert {v for h in history.values() for r, (v, _) in h.items() if r != "served"} == {"local:v1-synthetic"}

        challenger.close()  # the challenger's endpoint goes away; the classifier still knows its version
        later = catalogue(24, own, seed=7)
        summary = categorize(image_ids=later, classifier=classifier, settings=own, session_factory=session_scope)
        meant = sorted(i for i, r in challenger_roles(later, shadow=0.5, canary=0.25).items() if r == CANARY)
        assert len(summary.categorized) == 24 and not summary.canary and not summary.shadow and not summary.failed
        assert summary.canary_failed == meant != [] and "stylecat-challenger" in str(summary.challenger_error)
        assert {image.model_version for image in _images(later).values()} == {"local:champion"}


def _endpoint(folder: Path, log: Path) -> AbstractContextManager[str]:
    """The project's inference server serving one model folder, as a SageMaker endpoint would."""
    env = {"STYLECAT_MODEL_THREADS": "1", "STYLECAT_INFERENCE_MODEL_DIR": str(folder)}
    return serving(["serve-model"], log, _pings, env)


def _pings(base: str) -> bool:
    try:
        return httpx.get(f"{base}/ping", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
