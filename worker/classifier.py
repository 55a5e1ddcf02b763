"""The classifier interface every backend implements, and the errors the backends share.

A backend answers, per image, a `StyleResult` or the `ImageDecodeError` of that image, plus the
model version that ran. `local` (worker/local.py) runs the CNN in the worker process; `sagemaker`
(worker/sagemaker.py) calls an endpoint. worker/backends.py picks one from the settings.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from db.writes import ModelRef
from model.preprocess import ImageDecodeError

if TYPE_CHECKING:
    from model.predictor import StyleResult

Results = list["StyleResult | ImageDecodeError"]


class TransientError(Exception):
    """Worth a retry: the same call may succeed in a moment (an endpoint throttling or away, a
    store briefly unreachable). The Celery task retries it with backoff."""


class Classifier(Protocol):
    def current_model(self) -> ModelRef:
        """The model version that would run now (resolved, and loaded if it runs here)."""
        ...

    def classify(self, items: Sequence[bytes]) -> tuple[ModelRef, Results]:
        """Per item a result or the decode error of that item, and the model version that ran."""
        ...
