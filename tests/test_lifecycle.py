"""Compare, gated promotion and rollback (#11 item 5), through the CLI, on a private MLflow store
that holds the shipped versions (1: synthetic-only v1, 2: the corpus champion) and a tiny model
trained for one epoch on 16 images (3), which is worse than either on everything."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import Settings, get_settings
from core.shares import share
from db.session import session_scope
from db.writes import add_review
from model import registry
from model.training import TrainConfig, train
from producer.lifecycle import trained_reviews
from producer.retrain import HOLDOUT_SALT
from stylecat.cli import app
from tests.factories import illustration
from tests.faults import catalogue
from worker.categorize import categorize
from worker.local import LocalClassifier

N = ["--n", "200"]


@pytest.fixture
def lineage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("STYLECAT_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    get_settings.cache_clear()
    own = get_settings()
    client = registry.configure(own)
    registry.ensure_champion(client, own.model_name)
    tiny = TrainConfig(n_train=16, n_test=8, epochs=1, image_size=32, batch_size=8, threads=1)
    assert train(tiny, own).version == "3"
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
    code, output = _run("model", "promote", "3", *N)
    assert code == 1, output
    assert "evaluation: accuracy" in output and "not promoted (--force overrides)" in output
    assert _aliases(lineage) == {"champion": "2"}

    code, output = _run("model", "promote", "3", "--force", *N)
    assert code == 0 and "alias champion: 2 -> 3" in output, output
    assert _aliases(lineage) == {"champion": "3", "previous": "2"}

    code, output = _run("model", "rollback")
    assert code == 0 and "alias champion: 3 -> 2" in output, output
    assert _aliases(lineage) == {"champion": "2", "previous": "3"}

    code, output = _run("model", "promote", "3", "--alias", "champion", "--force", *N)
    assert code == 0
    code, output = _run("model", "promote", "2", "--alias", "challenger")  # other aliases move without gates
    assert code == 0 and _aliases(lineage) == {"champion": "3", "previous": "2", "challenger": "2"}
    code, output = _run("model", "promote", "challenger", *N)  # better than the tiny champion on every gate
    assert code == 0 and "passes every gate" in output, output
    assert _aliases(lineage) == {"champion": "2", "previous": "3"}  # a promoted challenger is no longer one


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
    assert (found["champion"], found["challenger"]) == ("2", "1")
    for version in ("1", "2"):
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
    assert f"trained on {30 - len(held)} reviewed images ({len(held)} held out); registered version 4" in output
    assert 0 < len(held) < 30
    assert _aliases(lineage) == {"champion": "2", "challenger": "4"}

    client = registry.configure(lineage)
    assert sorted(trained_reviews(client, lineage.model_name, "4")) == sorted(set(ids) - set(held))
    run = client.get_run(client.get_model_version(lineage.model_name, "4").run_id)
    assert run.data.params["init"] != "None" and run.data.params["reviews"] != "None"  # fine-tuned from the champion
    code, output = _run("model", "compare", "--json", *N)
    found = json.loads(output.strip().splitlines()[-1])
    assert found["sets"]["4"]["held_out_reviews"]["n"] == len(held)  # never scored on what it trained on
