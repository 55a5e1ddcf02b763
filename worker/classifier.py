"""The classifier interface every backend implements, and the errors the backends share.

A backend answers, per image, a `StyleResult` or the `ImageDecodeError` of that image, plus the
model version that ran. `local` (worker/local.py) runs the CNN in the worker process; `sagemaker`
(worker/sagemaker.py) calls an endpoint. worker/backends.py picks one from the settings.

Beside the champion a backend may run the challenger (the registry alias `challenger`, or the
challenger's endpoint) on some of the images: worker/challenger.py picks which. Trouble with the
challenger never fails a batch: the backend says what went wrong and the champion serves.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from db.writes import ModelRef
from model.preprocess import ImageDecodeError

if TYPE_CHECKING:
    from model.predictor import StyleResult

Results = list["StyleResult | ImageDecodeError"]


class TransientError(Exception):
    """Worth a retry: the same call may succeed in a moment (an endpoint throttling or away, a
    store briefly unreachable). The Celery task retries it with backoff."""


@dataclass
class Classified:
    """What ran on which items (by index into the items classified)."""

    model: ModelRef
    results: dict[int, "StyleResult | ImageDecodeError"]
    """The champion's, for the items it was asked to run."""
    challenger: ModelRef | None = None
    """The challenger that ran; None if it was not asked, or could not run (`challenger_error`)."""
    challenger_results: dict[int, "StyleResult | ImageDecodeError"] = field(default_factory=dict)
    challenger_error: str | None = None
    appearance: dict[int, tuple[float, float]] = field(default_factory=dict)
    """(brightness, colourfulness) of the items the backend decoded (model.preprocess.appearance)."""


class Classifier(Protocol):
    def current_model(self) -> ModelRef:
        """The model version that would run now (resolved, and loaded if it runs here)."""
        ...

    def current_challenger(self) -> ModelRef | None:
        """The challenger version that would run now; None without one (or while it is unreachable)."""
        ...

    def classify(
        self, items: Sequence[bytes], champion: Collection[int] | None = None, challenger: Collection[int] = ()
    ) -> Classified:
        """The champion on the items at the indexes `champion` names (default: all of them) and the
        challenger on those `challenger` names, each image decoded once."""
        ...


def everything(items: Sequence[bytes], champion: Collection[int] | None) -> Collection[int]:
    return range(len(items)) if champion is None else champion
