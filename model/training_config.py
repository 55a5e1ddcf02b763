"""What `stylecat train` trains with (a module without torch, so the CLI starts fast)."""

from dataclasses import dataclass
from pathlib import Path

REVIEWS = "reviews"
"""The source of exported reviews (`reviews--<image id>.<ext>`): drawn `review_weight` times as often."""


@dataclass(frozen=True)
class TrainConfig:
    data: Path | None = None
    """A labelled folder (the corpus, or exported reviews); None: the synthetic generator alone."""
    n_train: int = 4_000
    """Synthetic training images (mixed with the corpus, or alone)."""
    n_test: int = 2_000
    epochs: int = 10
    image_size: int = 128
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 1
    threads: int = 2
    folds: int = 4
    """Leave-source-out folds over the corpus sources (0: no cross-validation, no calibration)."""
    reviews: Path | None = None
    """Exported reviews (a labelled folder, source `reviews`), added to the corpus."""
    review_weight: float = 3.0
    """How much more often a reviewed image is drawn than a corpus image of its class and source share."""
    init: Path | None = None
    """A weights folder to start from (fine-tuning) instead of random weights; its input size wins."""
