"""The classifier backend the settings name, built once per worker process."""

from functools import lru_cache

from core.settings import get_settings
from worker.classifier import Classifier
from worker.local import LocalClassifier
from worker.sagemaker import SageMakerClassifier


@lru_cache
def get_classifier() -> Classifier:
    settings = get_settings()
    if settings.classifier == "sagemaker":
        return SageMakerClassifier(settings)
    return LocalClassifier(settings)
