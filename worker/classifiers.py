"""Classifier backends behind one interface: `local` runs the CNN in this process, `sagemaker`
calls an endpoint (worker/sagemaker.py). Each worker process builds its classifier once, lazily
(never in the parent before the fork), and the local one follows the registry alias when it moves."""

import logging
import os
import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from db.writes import ModelRef
from model.preprocess import ImageDecodeError
from stylecat.settings import Settings, get_settings

if TYPE_CHECKING:
    from model.predictor import StylePredictor, StyleResult

log = logging.getLogger(__name__)

Results = list["StyleResult | ImageDecodeError"]


class Classifier(Protocol):
    def classify(self, items: Sequence[bytes]) -> tuple[ModelRef, Results]:
        """Per item a result or the decode error of that item, and the model version that ran."""
        ...


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


def torch_threads(settings: Settings, concurrency: int) -> int:
    """Threads per process so that prefork children don't oversubscribe the cores."""
    return settings.torch_threads or max(1, (os.cpu_count() or 1) // max(1, concurrency))


@lru_cache
def get_classifier() -> Classifier:
    settings = get_settings()
    if settings.classifier == "sagemaker":
        from worker.sagemaker import SageMakerClassifier

        return SageMakerClassifier(settings)
    return LocalClassifier(settings)
