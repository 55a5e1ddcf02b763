"""The `local` classifier backend: the CNN in this worker process.

Each worker process builds it once, lazily (never in the parent before the fork), and follows the
registry aliases when they move: the champion's (`model_uri`) and, while a shadow or canary
fraction is set, the challenger's (`challenger_uri`). While the registry is unreachable the loaded
versions keep serving (logged, and counted in worker/metrics.py); without a loaded champion the
task retries, without a challenger the champion serves alone.
"""

import logging
import os
import threading
import time
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from mlflow.exceptions import MlflowException

from core.settings import Settings
from db.writes import ModelRef
from model.preprocess import appearance
from worker.classifier import Classified, TransientError, everything
from worker.metrics import REGISTRY_ERRORS, REGISTRY_UP

if TYPE_CHECKING:
    from model import registry
    from model.predictor import StylePredictor

log = logging.getLogger(__name__)

REGISTRY_HTTP = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
}
"""A look-up happens inside a task: with MLflow's defaults (7 retries, 120 s timeout) an unreachable
tracking server held it for about 4 minutes; these bound it to seconds (the environment overrides)."""

Loaded = tuple[ModelRef, "StylePredictor"]


class Follower:
    """One registry URI followed in this process: re-resolved at most every `model_recheck_interval`
    seconds and reloaded when it names another version. `optional`: an unset alias means no model
    (the challenger) instead of an error, and the registry being away is not worth a retry."""

    def __init__(self, settings: Settings, uri: str, *, optional: bool, threads: int) -> None:
        self.settings = settings
        self.uri = uri
        self.threads = threads
        self.optional = optional
        self._lock = threading.Lock()
        self._loaded: Loaded | None = None
        self._checked_at = -float("inf")

    def current(self) -> Loaded | None:
        from model import registry

        with self._lock:
            if time.monotonic() - self._checked_at > self.settings.model_recheck_interval or (
                self._loaded is None and not self.optional
            ):
                try:
                    client = registry.configure(self.settings)
                    if self.optional:
                        resolved = registry.resolve(client, self.uri)
                    else:
                        resolved = registry.resolve_serving(client, self.uri, self.settings.model_name)
                except SoftTimeLimitExceeded:
                    raise
                except MlflowException as exc:
                    if not (self.optional and registry.is_unset(exc)):
                        self._registry_down(exc)
                    elif self._loaded is not None:
                        log.info("%s is unset now; unloading version %s", self.uri, self._loaded[0].version)
                        self._loaded = None
                except Exception as exc:  # HTTP or the store behind MLflow: whatever the registry raised
                    self._registry_down(exc)
                else:
                    REGISTRY_UP.set(1)
                    if self._loaded is None or self._loaded[0].version != resolved.version:
                        self._load(resolved)
                self._checked_at = time.monotonic()
            return self._loaded

    def _load(self, resolved: "registry.ResolvedModel") -> None:
        from model import registry

        log.info("loading %s version %s (%s)", resolved.name, resolved.version, self.uri)
        model = ModelRef(name=resolved.name, version=resolved.version, backend="local")
        began = time.perf_counter()
        try:
            self._loaded = (model, registry.load_predictor(resolved, self.threads))
            log.info("loaded %s version %s in %.2f s", resolved.name, resolved.version, time.perf_counter() - began)
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            if not self.optional:
                raise
            log.exception("could not load %s version %s; going on without it", resolved.name, resolved.version)
            self._loaded = None

    def _registry_down(self, exc: Exception) -> None:
        REGISTRY_UP.set(0)
        if self._loaded is None:
            if self.optional:
                log.warning("the model registry is unreachable; no %s yet (%s)", self.uri, exc)
                return
            raise TransientError(f"the model registry is unreachable and no model is loaded yet: {exc}") from exc
        REGISTRY_ERRORS.inc()
        model = self._loaded[0]
        log.warning(
            "the model registry is unreachable (%s); still serving %s version %s",
            type(exc).__name__,
            model.name,
            model.version,
        )


class LocalClassifier:
    """The CNN in-process, the challenger beside it when a shadow or canary fraction is set; each
    runs its forward passes (and decodes) in `threads` threads."""

    def __init__(self, settings: Settings, threads: int = 1) -> None:
        self.settings = settings
        for name, value in REGISTRY_HTTP.items():
            os.environ.setdefault(name, value)
        self._champion = Follower(settings, settings.model_uri, optional=False, threads=threads)
        self._challenger = Follower(settings, settings.challenger_uri, optional=True, threads=threads)

    def _champion_now(self) -> Loaded:
        loaded = self._champion.current()
        assert loaded is not None  # a required follower raises instead
        return loaded

    def current_model(self) -> ModelRef:
        return self._champion_now()[0]

    def current_challenger(self) -> ModelRef | None:
        loaded = self._challenger.current()
        return loaded[0] if loaded else None

    def classify(
        self, items: Sequence[bytes], champion: Collection[int] | None = None, challenger: Collection[int] = ()
    ) -> Classified:
        model, predictor = self._champion_now()
        champion = everything(items, champion)
        wanted = sorted(set(champion) | set(challenger))
        pixels = predictor.decode([items[i] for i in wanted], self.settings.max_image_pixels)
        decoded = dict(zip(wanted, pixels, strict=True))
        served = [i for i in wanted if i in champion]
        out = Classified(model, dict(zip(served, predictor.predict_decoded([decoded[i] for i in served]), strict=True)))
        out.appearance = {i: appearance(pixels) for i, pixels in decoded.items() if isinstance(pixels, np.ndarray)}
        if not challenger:
            return out
        loaded = self._challenger.current()
        if loaded is None:
            out.challenger_error = f"no challenger loaded ({self.settings.challenger_uri})"
            return out
        out.challenger, other = loaded
        tried = sorted(challenger)
        if other.image_size == predictor.image_size:  # one decode serves both models
            pixels = [decoded[i] for i in tried]
        else:
            pixels = other.decode([items[i] for i in tried], self.settings.max_image_pixels)
        out.challenger_results = dict(zip(tried, other.predict_decoded(pixels), strict=True))
        return out
