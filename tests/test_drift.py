"""Drift monitoring (#11 item 7): a balanced reference week, then a day of one style raises the alert
(exit 2 and the Prometheus gauge); a balanced day does not."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from typer.testing import CliRunner

from core.styles import STYLES
from stylecat.cli import app
from tests.processes import api_answers, serving
from tests.web import served_history


def _drift(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(app, ["monitor", "drift", "--json", *args])
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def test_one_style_after_a_balanced_week_raises_the_alert(clean_tables: None, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    served_history(list(STYLES) * 50, now - timedelta(days=10))  # the serving version's first week
    served_history(["flat"] * 120, now, brightness=0.2)

    code, found = _drift("--window", "1d", "--plot", str(tmp_path / "drift.png"))
    assert code == 2, found
    alerts = found["alerts"]
    assert isinstance(alerts, list)
    assert any(a.startswith("style mix: chi-square") for a in alerts) and any(
        a.startswith("style: PSI") for a in alerts
    )
    assert any(a.startswith("brightness: PSI") for a in alerts)  # the inputs moved too
    assert (tmp_path / "drift.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    with serving(["api"], tmp_path / "api.log", api_answers) as base:
        httpx.get(f"{base}/health", timeout=10)
        text = httpx.get(f"{base}/metrics", timeout=30).text
    assert re.search(r"^stylecat_drift_alert 1\.0$", text, re.MULTILINE), text
    assert re.search(r'^stylecat_style_share\{style="flat"\} 1\.0$', text, re.MULTILINE), text
    assert re.search(r'^stylecat_drift_psi\{signal="style"\} [1-9]', text, re.MULTILINE), text
    timed = r'^stylecat_api_request_seconds_count\{method="GET",route="/health",status="200"\} [1-9]'
    assert re.search(timed, text, re.MULTILINE), text  # the readiness checks and the request above


def test_a_balanced_day_raises_nothing(clean_tables: None, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    served_history(list(STYLES) * 50, now - timedelta(days=10))
    served_history(list(STYLES) * 30, now)

    code, found = _drift("--window", "1d")
    assert code == 0 and found["alerts"] == []
    windows = found["windows"]
    assert isinstance(windows, list) and windows[-1]["n"] == 120 and windows[-1]["chi2_p"] > 0.5

    with serving(["api"], tmp_path / "api.log", api_answers) as base:
        text = httpx.get(f"{base}/metrics", timeout=30).text
    assert re.search(r"^stylecat_drift_alert 0\.0$", text, re.MULTILINE), text


def test_a_reference_range_that_is_not_one_is_refused() -> None:
    result = CliRunner().invoke(app, ["monitor", "drift", "--reference", "2026-11-08..2026-11-01"])
    assert result.exit_code == 2 and "two ISO dates in order" in result.output


def test_api_workers_sum_their_request_metrics(clean_tables: None, tmp_path: Path) -> None:
    """`stylecat api --workers 2`: whichever process answers a scrape counts every process's requests."""
    with serving(["api", "--workers", "2"], tmp_path / "api.log", api_answers) as base:
        for _ in range(20):  # a new connection each: the two processes share them
            assert httpx.get(f"{base}/no-such-page", timeout=10).status_code == 404
        texts = [httpx.get(f"{base}/metrics", timeout=30).text for _ in range(4)]
    counted = r'^stylecat_api_request_seconds_count\{method="GET",route="unmatched",status="404"\} 20\.0$'
    for text in texts:
        assert re.search(counted, text, re.MULTILINE), text
        assert len(re.findall(r"^stylecat_drift_alert ", text, re.MULTILINE)) == 1, text
