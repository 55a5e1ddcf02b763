"""Compare, gated promotion and rollback (#11 item 5), through the CLI, on a private MLflow store
that holds the shipped versions (1: synthetic-only v1, 2: the first corpus model, 3: the champion)
and a tiny model trained for one epoch on 16 images (4), which is worse than any of them on everything."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.settings import Settings, get_settings
from core.shares import share
from core.styles import STYLES
from db.models import Image, StylePrediction
from db.session import session_scope
from db.writes import ModelRef, add_review
from model import registry
from model.training import TrainConfig, train
from producer.lifecycle import trained_reviews
from producer.retrain import HOLDOUT_SALT
from stylecat.cli import app
from tests.conftest import registry_copy
from tests.factories import CHAMPION, FIRST_TRAINED, SECOND_TRAINED, illustration
from tests.faults import catalogue
from worker import canary
from worker.categorize import categorize
from worker.dispatch import redis_client
from worker.local import LocalClassifier

N = ["--n", "200"]


@pytest.fixture(scope="module")
def tiny_lineage(shipped_registry: Path, tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Path:
    """The shipped versions and a tiny trained version after them, registered once for this module's tests."""
    folder = tmp_path_factory.mktemp("lineage")
    own = settings.model_copy(update={"mlflow_tracking_uri": registry_copy(shipped_registry, folder)})
    registry.configure(own)
    tiny = TrainConfig(n_train=16, n_test=8, epochs=1, image_size=32, batch_size=8, threads=1)
    assert train(tiny, own).version == FIRST_TRAINED
    registry.configure(settings)
    return folder / "mlflow.db"


@pytest.fixture
def lineage(tiny_lineage: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("STYLECAT_MLFLOW_TRACKING_URI", registry_copy(tiny_lineage, tmp_path))
    get_settings.cache_clear()
    own = get_settings()
    registry.configure(own)
    yield own
    monkeypatch.undo()
    get_settings.cache_clear()
    registry.configure(get_settings())


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def _aliases(settings: Settings) -> dict[str, str]:
    client = registry.configure(settings)
    return {alias: str(v) for alias, v in client.get_registered_model(settings.model_name).aliases.items()}


def test_promote_refuses_a_worse_model_and_rollback_restores(clean_tables: None, lineage: Settings) -> None:
    code, output = _run("model", "promote", FIRST_TRAINED, *N)
    assert code == 1, output
    assert "evaluation: accuracy" in output and "not promoted (--force overrides)" in output
    assert _aliases(lineage) == {"champion": CHAMPION}

    code, output = _run("model", "promote", FIRST_TRAINED, "--force", *N)
    assert code == 0 and f"alias champion: {CHAMPION} -> {FIRST_TRAINED}" in output, output
    assert _aliases(lineage) == {"champion": FIRST_TRAINED, "previous": CHAMPION}

    code, output = _run("model", "rollback")
    assert code == 0 and f"alias champion: {FIRST_TRAINED} -> {CHAMPION}" in output, output
    assert _aliases(lineage) == {"champion": CHAMPION, "previous": FIRST_TRAINED}

    code, output = _run("model", "promote", FIRST_TRAINED, "--alias", "champion", "--force", *N)
    assert code == 0
    code, output = _run("model", "promote", CHAMPION, "--alias", "challenger")  # other aliases move without gates
    assert code == 0 and _aliases(lineage) == {"champion": FIRST_TRAINED, "previous": CHAMPION, "challenger": CHAMPION}
    code, output = _run("model", "promote", "challenger", *N)  # better than the tiny champion on every gate
    assert code == 0 and "passes every gate" in output, output
    assert _aliases(lineage) == {
        "champion": CHAMPION,
        "previous": FIRST_TRAINED,
    }  # a promoted challenger is no longer one


def test_rollback_without_a_previous_version_says_so(lineage: Settings) -> None:
    code, output = _run("model", "rollback")
    assert code == 1 and "nothing to roll back to" in output
    code, output = _run("model", "compare", "champion", "challenger")
    assert code == 1 and "has no version or alias 'challenger'" in output


def test_compare_scores_held_out_reviews_and_reads_the_shadow(clean_tables: None, lineage: Settings) -> None:
    registry.promote(registry.configure(lineage), lineage.model_name, "1", "challenger")
    ids = catalogue(24, lineage)
    shadowing = lineage.model_copy(update={"shadow_fraction": 1.0})
    summary = categorize(
        image_ids=ids, classifier=LocalClassifier(shadowing), settings=shadowing, session_factory=session_scope
    )
    assert len(summary.shadow) == 24
    with session_scope() as session:
        for image_id in ids[:10]:
            add_review(session=session, image_id=image_id, style="hand_drawn", reviewer="test")

    code, output = _run("model", "compare", "--json", *N)
    assert code == 0, output
    found = json.loads(output.strip().splitlines()[-1])
    assert (found["champion"], found["challenger"]) == (CHAMPION, "1")
    for version in ("1", CHAMPION):
        assert found["sets"][version]["evaluation"]["n"] == 200
        assert found["sets"][version]["held_out_reviews"]["n"] == 10
        assert found["sets"][version]["held_out_reviews"]["recall"]["hand_drawn"] in [i / 10 for i in range(11)]
    production = found["production"]
    assert production["shadow_predictions"] == 24 and 0 <= production["shadow_agreement"] <= 1
    assert production["canary_predictions"] == 0 and production["canary_share"] == 0
    # 10 reviews are under the 20 that gate a promotion: only the evaluation set may fall short
    assert all(s.startswith("evaluation:") for s in found["shortfalls"])


def test_retrain_trains_on_most_reviews_and_is_scored_on_the_rest(clean_tables: None, lineage: Settings) -> None:
    ids = catalogue(30, lineage)
    with session_scope() as session:
        for n, image_id in enumerate(ids):
            add_review(session=session, image_id=image_id, style=illustration(n % 12, seed=5150)[1], reviewer="test")
    tiny = ["--epochs", "1", "--n-train", "16", "--n-test", "8", "--batch-size", "8", "--threads", "1"]
    code, output = _run("retrain", "--holdout", "0.3", *tiny, *N)
    assert code == 0, output
    held = sorted(i for i in ids if share(i, HOLDOUT_SALT) < 0.3)
    assert (
        f"trained on {30 - len(held)} reviewed images ({len(held)} held out); registered version {SECOND_TRAINED}"
        in output
    )
    assert 0 < len(held) < 30
    assert _aliases(lineage) == {"champion": CHAMPION, "challenger": SECOND_TRAINED}

    client = registry.configure(lineage)
    assert sorted(trained_reviews(client, lineage.model_name, SECOND_TRAINED)) == sorted(set(ids) - set(held))
    run = client.get_run(client.get_model_version(lineage.model_name, SECOND_TRAINED).run_id)
    assert run.data.params["init"] != "None" and run.data.params["reviews"] != "None"  # fine-tuned from the champion
    code, output = _run("model", "compare", "--json", *N)
    found = json.loads(output.strip().splitlines()[-1])
    assert found["sets"][SECOND_TRAINED]["held_out_reviews"]["n"] == len(held)  # never scored on what it trained on


def test_a_bad_canary_is_halted_and_its_images_go_back_to_the_champion(clean_tables: None, lineage: Settings) -> None:
    """The tiny trained version as the canary for half the images; reviewers correct 24 of the images it
    served (a canary forced to be bad); the canary watch halts it and re-sends the others."""
    registry.promote(registry.configure(lineage), lineage.model_name, FIRST_TRAINED, "challenger")
    own = lineage.model_copy(update={"canary_fraction": 0.5})
    classifier = LocalClassifier(own)
    ids = catalogue(80, own)
    summary = categorize(image_ids=ids, classifier=classifier, settings=own, session_factory=session_scope)
    served = sorted(summary.canary)
    assert len(served) > 30
    client = redis_client(own.redis_url)
    canary.count_attempts(client, ModelRef(own.model_name, FIRST_TRAINED, "local"), len(summary.canary), 0)
    with session_scope() as session:
        by_canary = {
            p.image_id: p.style
            for p in session.scalars(select(StylePrediction).where(StylePrediction.role == "canary"))
        }
        for image_id in served[:24]:
            other = next(s for s in STYLES if s != by_canary[image_id])
            add_review(session=session, image_id=image_id, style=other, reviewer="test")

    sent: list[int] = []
    quiet = canary.watch(
        session_factory=session_scope,
        client=client,
        settings=own.model_copy(update={"canary_min_reviews": 25}),
        send=sent.extend,
    )
    assert quiet == [] and sent == []  # 24 reviews are fewer than asked for: no verdict yet
    [halt] = canary.watch(session_factory=session_scope, client=client, settings=own, send=sent.extend)
    assert halt.model_version == FIRST_TRAINED and "disagrees with 24 of 24 reviews" in halt.reason
    assert sorted(sent) == served[24:] and halt.requeued == len(served) - 24  # reviewed ones are kept
    assert canary.watch(session_factory=session_scope, client=client, settings=own, send=sent.extend) == []

    again = categorize(image_ids=sent, classifier=classifier, settings=own, session_factory=session_scope)
    assert sorted(again.categorized) == sorted(sent) and not again.canary  # halted: the champion serves
    with session_scope() as session:
        assert set(session.scalars(select(Image.model_version).where(Image.id.in_(sent)))) == {CHAMPION}

    code, output = _run("model", "status", "--json")
    found = json.loads(output.strip().splitlines()[-1])
    assert found["aliases"] == {"champion": CHAMPION, "challenger": FIRST_TRAINED} and found["canary_fraction"] == 0.0
    [state] = found["canaries"]
    assert state["version"] == FIRST_TRAINED and "disagrees" in state["halted"]["reason"]
    assert state["signals"]["reviewed"] == 24 and state["signals"]["disagreement"] == 1.0


def test_a_canary_that_keeps_failing_is_halted(clean_tables: None, lineage: Settings) -> None:
    client = redis_client(lineage.redis_url)
    version = ModelRef(lineage.model_name, "7", "sagemaker")
    canary.count_attempts(client, version, served=18, failed=1)  # 19 attempts: too few to judge
    assert canary.watch(session_factory=session_scope, client=client, settings=lineage, send=list) == []
    canary.count_attempts(client, version, served=0, failed=2)  # 3 of 21 failed: over 5 %
    [halt] = canary.watch(session_factory=session_scope, client=client, settings=lineage, send=list)
    assert halt.reason.startswith("failure rate 0.143 over 21 canary images")
