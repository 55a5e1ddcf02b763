"""`GET /metrics` for Prometheus: the API's request durations, and the drift figures of the served
model (producer/monitoring.py) for the day so far and the day before, computed at most once a
`CACHE_SECONDS` whatever the scrape rate.

With `stylecat api --workers N` (N > 1) the command points PROMETHEUS_MULTIPROC_DIR at a fresh folder
before the workers start (prometheus_client's multiprocess mode): every process writes its request
samples there, and whichever process answers a scrape sums them all.
"""

import os
import threading
import time
from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import get_settings
from core.styles import STYLES
from db.session import session_scope

CACHE_SECONDS = 60.0
DRIFT_WINDOWS = 2
"""Today and yesterday (1-day windows): the alert follows the newer one with enough images."""

registry = CollectorRegistry()
REQUESTS = Histogram(
    "stylecat_api_request_seconds",
    "API requests by method, route template and status",
    ["method", "route", "status"],
    registry=registry,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
router = APIRouter()


class RequestTimer:
    """ASGI middleware: the time from the request to the start of the answer, per route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = "500"

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
                route = getattr(scope.get("route"), "path", "unmatched")
                REQUESTS.labels(scope["method"], route, status).observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, timed_send)


class DriftCollector(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at = -float("inf")
        self._metrics: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() - self._at > CACHE_SECONDS:
                self._metrics = self._compute()
                self._at = time.monotonic()
            yield from self._metrics

    @staticmethod
    def _compute() -> list[Metric]:
        from producer.monitoring import WINDOWS, describe, drift

        settings = get_settings()
        with session_scope() as session:
            report = drift(session=session, settings=settings, window=WINDOWS["1d"], count=DRIFT_WINDOWS)
        alert = GaugeMetricFamily("stylecat_drift_alert", "1 if the newest judged day crosses a drift threshold")
        alert.add_metric([], 1.0 if report and report.alerts else 0.0)
        if report is None:
            return [alert]
        newest = report.windows[-1]
        figures = describe(newest.sample, settings.drift_low_confidence)
        share = GaugeMetricFamily("stylecat_style_share", "Share of each predicted style today", labels=["style"])
        for style in STYLES:
            share.add_metric([style], figures["style_share"][style] or 0.0)
        psi = GaugeMetricFamily("stylecat_drift_psi", "PSI of a signal today against the reference", labels=["signal"])
        for signal, value in newest.psi.items():
            if value is not None:
                psi.add_metric([signal], value)
        found: list[Metric] = [alert, share, psi]
        for name, key, text in (
            ("stylecat_confidence_mean", "confidence_mean", "Mean confidence of today's predictions"),
            ("stylecat_low_confidence_share", "low_confidence_share", "Share of today's predictions of low confidence"),
            ("stylecat_failure_rate", "failure_rate", "Share of today's images that failed"),
        ):
            if figures[key] is not None:
                found.append(GaugeMetricFamily(name, text, value=figures[key]))
        predictions = GaugeMetricFamily("stylecat_predictions_today", "Served predictions today")
        predictions.add_metric([], newest.sample.n)
        return [*found, predictions]


drift = DriftCollector()
registry.register(drift)


def exposition() -> CollectorRegistry:
    """What a scrape answers: this process's registry, or in multiprocess mode every process's samples
    (from the files) and the drift figures (the same in every process: they come from the database)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return registry
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    merged.register(drift)
    return merged


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(exposition()), media_type=CONTENT_TYPE_LATEST)
