"""The `local` classifier backend: the CNN in this worker process.

Each worker process builds it once, lazily (never in the parent before the fork), and follows the
registry alias when it moves.
"""

import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.settings import Settings
from db.writes import ModelRef
from worker.classifier import Results

if TYPE_CHECKING:
    from model.predictor import StylePredictor

log = logging.getLogger(__name__)


class LocalClassifier:
    """The CNN in-process. The alias is re-resolved at most every `recheck` seconds."""

    def __init__(self, settings: Settings, recheck: float = 30.0) -> None:
        self.settings = settings
        self.recheck = recheck
        self._lock = threading.Lock()
        self._model: ModelRef | None = None
        self._predictor: StylePredictor | None = None
        self._checked_at = 0.0

    def _current(self) -> tuple[ModelRef, "StylePredictor"]:
        from model import registry

        with self._lock:
            if self._predictor is None or time.monotonic() - self._checked_at > self.recheck:
                client = registry.configure(self.settings)
                resolved = registry.resolve_serving(client, self.settings.model_uri, self.settings.model_name)
                if self._model is None or self._model.version != resolved.version:
                    log.info("loading %s version %s", resolved.name, resolved.version)
                    self._predictor = registry.load_predictor(resolved)
                    self._model = ModelRef(name=resolved.name, version=resolved.version, backend="local")
                self._checked_at = time.monotonic()
            assert self._model is not None and self._predictor is not None
            return self._model, self._predictor

    def classify(self, items: Sequence[bytes]) -> tuple[ModelRef, Results]:
        model, predictor = self._current()
        return model, predictor.predict(items, self.settings.max_image_pixels)

    def current_model(self) -> ModelRef:
        return self._current()[0]


def torch_threads(settings: Settings, concurrency: int) -> int:
    """Threads per process so that prefork children don't oversubscribe the cores."""
    return settings.torch_threads or max(1, (os.cpu_count() or 1) // max(1, concurrency))
