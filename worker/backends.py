"""The classifier backend the settings name, built once per worker process."""

from functools import lru_cache

from core.settings import get_settings
from core.threads import model_threads
from worker.app import app
from worker.classifier import Classifier
from worker.local import LocalClassifier
from worker.sagemaker import SageMakerClassifier


@lru_cache
def get_classifier() -> Classifier:
    settings = get_settings()
    if settings.classifier == "sagemaker":
        return SageMakerClassifier(settings)
    # A worker's prefork children share its cores: each runs its forward passes on its share.
    return LocalClassifier(settings, threads=model_threads(settings, app.conf.worker_concurrency or 1))
