"""An MLflow outage does not stop categorization (#12 item 10): a real MLflow tracking server over
HTTP, a real worker that loaded the champion from it, then the server stopped. Before, the alias
look-up inside the task retried for about 4 minutes and then failed with an error no one retried."""

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from tests.faults import catalogue, statuses
from tests.processes import Process, free_port, mlflow_server, wait_for
from worker.dispatch import enqueue_batch


@pytest.fixture
def mlflow(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with mlflow_server(tmp_path) as running:
        yield running


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in\n{text}"
    return float(match.group(1))


def test_the_loaded_model_keeps_serving_while_the_registry_is_down(
    settings: Settings, clean_tables: None, tmp_path: Path, mlflow: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, server = mlflow
    metrics_port = free_port()
    env = {"STYLECAT_MLFLOW_TRACKING_URI": url, "STYLECAT_MODEL_RECHECK_INTERVAL": "1"}
    args = ["worker", "--queues", "categorize.backfill", "--concurrency", "1", "--metrics-port", str(metrics_port)]
    worker = Process(args, tmp_path / "worker.log", env)
    try:
        before = catalogue(4, settings)
        enqueue_batch(before, "backfill")
        wait_for(lambda: statuses(before)["categorized"] == 4, 180, f"the first batch\n{worker.tail()}")

        server.terminate()
        server.wait(20)
        time.sleep(1.5)  # past the recheck interval: the next batch looks the alias up
        during = catalogue(4, settings, seed=99)
        enqueue_batch(during, "backfill")
        wait_for(lambda: statuses(during)["categorized"] == 4, 60, f"a batch during the outage\n{worker.tail()}")

        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert _metric(metrics, "stylecat_model_registry_up") == 0
        assert _metric(metrics, "stylecat_model_registry_errors_total") >= 1
        assert _metric(metrics, 'stylecat_images_total{outcome="categorized"}') == 8
        assert "the model registry is unreachable" in worker.log.read_text() and "still serving" in worker.tail(400)
    finally:
        worker.stop()
