"""The model lifecycle end to end on the real stack, with real processes (#11): uploads through the
API, 30 reviews through the API, `stylecat retrain` registers a challenger, its shadow predictions
appear for the configured share and change neither the images nor the index, a canary forced to be
bad is halted by the canary watch (beat) and its images go back to the champion, `promote` refuses
a worse version and accepts a better one, `rollback` restores the champion before, and a backfill
after a promotion re-categorizes only what the old model predicted, never a reviewed image.

The registry is a copy of a private MLflow store with the shipped versions (the newest the
champion); then what the test trains."""

import os
import re
import subprocess
from pathlib import Path

import httpx
from sqlalchemy import select

from core.settings import Settings
from core.styles import STYLES
from db.models import CanaryHalt, Image, PredictionRole
from db.session import session_scope
from search.client import get_client
from tests.conftest import registry_copy
from tests.factories import CHAMPION, FIRST_TRAINED, SECOND_TRAINED, history_by_role, illustration
from tests.faults import FAULT_ENV, Pipeline, statuses, upload
from tests.processes import STYLECAT, wait_for
from worker.challenger import challenger_roles

TINY = ["--epochs", "1", "--n-train", "16", "--n-test", "8", "--batch-size", "8", "--threads", "1"]
GATES = ["--n", "200"]


def _versions(ids: list[int]) -> dict[int, str | None]:
    with session_scope() as session:
        return dict(session.execute(select(Image.id, Image.model_version).where(Image.id.in_(ids))).all())


def _indexed(ids: list[int], settings: Settings) -> dict[int, dict[str, object]]:
    client = get_client()
    client.indices.refresh(index=settings.opensearch_index)
    body = {"query": {"ids": {"values": [str(i) for i in ids]}}, "size": len(ids)}
    hits = client.search(index=settings.opensearch_index, body=body)["hits"]["hits"]
    return {int(hit["_id"]): hit["_source"] for hit in hits}


def test_reviews_retrain_shadow_canary_promote_rollback_backfill(
    settings: Settings, clean_tables: None, auth: dict[str, str], tmp_path: Path, shipped_registry: Path
) -> None:
    env = {
        "STYLECAT_MLFLOW_TRACKING_URI": registry_copy(shipped_registry, tmp_path),
        "STYLECAT_MODEL_RECHECK_INTERVAL": "1",
        "STYLECAT_CANARY_CHECK_INTERVAL": "2",
        "STYLECAT_CANARY_MIN_REVIEWS": "10",
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*STYLECAT, *args], env={**os.environ, **FAULT_ENV, **env}, capture_output=True, text=True, timeout=900
        )

    (tmp_path / "logs").mkdir()
    pipeline = Pipeline(tmp_path / "logs", env)

    def workers(**fractions: str) -> None:
        for name in ("live", "backfill"):
            if name in pipeline.processes:
                pipeline.stop(name)
        pipeline.env.update(fractions)
        pipeline.worker("live", "categorize.live,index")
        pipeline.worker("backfill", "categorize.backfill")

    truth: dict[int, str] = {}
    client = httpx.Client(headers=auth, timeout=30)
    try:
        client.base_url = httpx.URL(pipeline.api())
        workers()

        def send(n: int, seed: int) -> list[int]:
            ids = []
            for index in range(n):
                data, style = illustration(index, seed=seed)
                ids.append(upload(client, data, f"{seed}-{index}.png"))
                truth[ids[-1]] = style
            wait_for(
                lambda: statuses(ids)["categorized"] == n, 180, f"categorized\n{pipeline.processes['live'].tail()}"
            )
            return ids

        def review(image_id: int, style: str) -> None:
            answer = client.post(f"/images/{image_id}/review", json={"style": style, "reviewer": "e2e"})
            assert answer.status_code == 200, answer.text

        # 1. Reviews, then a challenger trained on them
        first = send(40, 11)
        for image_id in first[:30]:
            review(image_id, truth[image_id])
        retrained = cli("retrain", "--holdout", "0.2", *TINY, *GATES)
        assert retrained.returncode == 0, retrained.stderr[-3000:]
        assert f"registered version {FIRST_TRAINED} with alias challenger" in retrained.stdout

        # 2. Shadow: half the images also get the challenger's prediction, and nothing else changes
        workers(STYLECAT_SHADOW_FRACTION="0.5")
        second = send(40, 12)
        shadowed = sorted(
            i for i, r in challenger_roles(second, shadow=0.5, canary=0).items() if r == PredictionRole.SHADOW
        )
        history = history_by_role(second)
        assert sorted(i for i in second if "shadow" in history[i]) == shadowed and 0 < len(shadowed) < 40
        assert {history[i]["shadow"][0] for i in shadowed} == {FIRST_TRAINED}
        assert set(_versions(second).values()) == {CHAMPION}
        wait_for(
            lambda: [d["model_version"] for d in _indexed(second, settings).values()] == [CHAMPION] * 40,
            60,
            "the shadow batch in search, as categorized",
        )
        docs = _indexed(second, settings)
        wrong = {
            i: docs[i]
            for i in second
            if (docs[i]["model_version"], docs[i]["style"]) != (CHAMPION, history[i]["served"][1])
        }
        assert not wrong, (wrong, history)

        # 3. A canary forced to be bad: reviewers correct what it served; the watch halts it
        trained = cli("train", *TINY, "--folds", "0")
        assert trained.returncode == 0 and f"registered style-cnn version {SECOND_TRAINED}" in trained.stdout, (
            trained.stderr[-3000:]
        )
        assert cli("model", "promote", SECOND_TRAINED, "--alias", "challenger").returncode == 0
        workers(STYLECAT_SHADOW_FRACTION="0", STYLECAT_CANARY_FRACTION="0.5")
        pipeline.beat()
        third = send(40, 13)
        history = history_by_role(third)
        served_by_canary = sorted(i for i in third if "canary" in history[i])
        assert served_by_canary == sorted(
            i for i, r in challenger_roles(third, shadow=0, canary=0.5).items() if r == PredictionRole.CANARY
        )
        assert len(served_by_canary) >= 14
        corrected = served_by_canary[:12]
        for image_id in corrected:
            review(image_id, next(s for s in STYLES if s != history[image_id]["canary"][1]))

        def halted() -> CanaryHalt | None:
            with session_scope() as session:
                return session.scalar(select(CanaryHalt).where(CanaryHalt.model_version == SECOND_TRAINED))

        wait_for(lambda: halted() is not None, 60, f"the canary watch\n{pipeline.processes['beat'].tail()}")
        rest = served_by_canary[12:]
        wait_for(lambda: set(_versions(rest).values()) == {CHAMPION}, 120, "the canary's images back to the champion")
        status = cli("model", "status")
        # halted as soon as 10 corrections were in (STYLECAT_CANARY_MIN_REVIEWS), maybe before the 12th
        assert re.search(
            rf"canary version {SECOND_TRAINED}: HALTED at .*: disagrees with (1[0-2]) of \1 reviews", status.stdout
        ), status.stdout

        # 4. Gated promotion and rollback
        refused = cli("model", "promote", SECOND_TRAINED, *GATES)
        assert refused.returncode == 1 and "falls short" in refused.stdout + refused.stderr
        assert cli("model", "promote", SECOND_TRAINED, "--force", *GATES).returncode == 0
        fourth = send(8, 14)  # categorized by the forced champion
        assert set(_versions(fourth).values()) == {SECOND_TRAINED}
        accepted = cli("model", "promote", CHAMPION, *GATES)
        assert accepted.returncode == 0 and "passes every gate" in accepted.stdout, accepted.stdout + accepted.stderr
        rolled = cli("model", "rollback")
        assert f"alias champion: {CHAMPION} -> {SECOND_TRAINED}" in rolled.stdout
        rolled = cli("model", "rollback")
        assert f"alias champion: {SECOND_TRAINED} -> {CHAMPION}" in rolled.stdout

        # 5. After the promotion, a backfill re-runs what the old model predicted, never a review
        backfilled = cli("backfill", "--model-version", CHAMPION)
        assert backfilled.returncode == 0 and "enqueued 8 images" in backfilled.stdout, backfilled.stdout
        wait_for(lambda: set(_versions(fourth).values()) == {CHAMPION}, 120, "the backfill")
        assert set(_versions(corrected).values()) == {SECOND_TRAINED}  # reviewed: left alone
        with session_scope() as session:
            kept = dict(session.execute(select(Image.id, Image.style).where(Image.id.in_(corrected))).all())
        assert [i for i in corrected if kept[i] == history[i]["canary"][1]] == []  # the reviews stand
    finally:
        client.close()
        pipeline.stop_all()
