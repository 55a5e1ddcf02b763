"""The `local` classifier backend: the CNN in this worker process.

Each worker process builds it once, lazily (never in the parent before the fork), and follows the
registry alias when it moves. While the registry is unreachable the loaded version keeps serving
(logged, and counted in worker/metrics.py); without a loaded version the task retries.
"""

import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from celery.exceptions import SoftTimeLimitExceeded

from core.settings import Settings
from db.writes import ModelRef
from worker.classifier import Results, TransientError
from worker.metrics import REGISTRY_ERRORS, REGISTRY_UP

if TYPE_CHECKING:
    from model.predictor import StylePredictor

log = logging.getLogger(__name__)

REGISTRY_HTTP = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
}
"""A look-up happens inside a task: with MLflow's defaults (7 retries, 120 s timeout) an unreachable
tracking server held it for about 4 minutes; these bound it to seconds (the environment overrides)."""


class LocalClassifier:
    """The CNN in-process. The alias is re-resolved at most every `model_recheck_interval` seconds."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.recheck = settings.model_recheck_interval
        for name, value in REGISTRY_HTTP.items():
            os.environ.setdefault(name, value)
        self._lock = threading.Lock()
        self._model: ModelRef | None = None
        self._predictor: StylePredictor | None = None
        self._checked_at = 0.0

    def _current(self) -> tuple[ModelRef, "StylePredictor"]:
        from model import registry

        with self._lock:
            if self._predictor is None or time.monotonic() - self._checked_at > self.recheck:
                try:
                    client = registry.configure(self.settings)
                    resolved = registry.resolve_serving(client, self.settings.model_uri, self.settings.model_name)
                except SoftTimeLimitExceeded:
                    raise
                except Exception as exc:  # MLflow, HTTP or its store: whatever the registry raised
                    self._registry_down(exc)
                else:
                    REGISTRY_UP.set(1)
                    if self._model is None or self._model.version != resolved.version:
                        log.info("loading %s version %s", resolved.name, resolved.version)
                        self._predictor = registry.load_predictor(resolved)
                        self._model = ModelRef(name=resolved.name, version=resolved.version, backend="local")
                self._checked_at = time.monotonic()
            assert self._model is not None and self._predictor is not None
            return self._model, self._predictor

    def _registry_down(self, exc: Exception) -> None:
        REGISTRY_UP.set(0)
        if self._model is None:
            raise TransientError(f"the model registry is unreachable and no model is loaded yet: {exc}") from exc
        REGISTRY_ERRORS.inc()
        log.warning(
            "the model registry is unreachable (%s); still serving %s version %s",
            type(exc).__name__,
            self._model.name,
            self._model.version,
        )

    def classify(self, items: Sequence[bytes]) -> tuple[ModelRef, Results]:
        model, predictor = self._current()
        return model, predictor.predict(items, self.settings.max_image_pixels)

    def current_model(self) -> ModelRef:
        return self._current()[0]


def torch_threads(settings: Settings, concurrency: int) -> int:
    """Threads per process so that prefork children don't oversubscribe the cores."""
    return settings.torch_threads or max(1, (os.cpu_count() or 1) // max(1, concurrency))
