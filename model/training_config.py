"""What `stylecat train` trains with (a module without torch, so the CLI starts fast)."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainConfig:
    data: Path | None = None
    """A labelled folder (the corpus, or exported reviews); None: the synthetic generator alone."""
    n_train: int = 4_000
    """Synthetic training images (mixed with the corpus, or alone)."""
    n_test: int = 2_000
    epochs: int = 12
    image_size: int = 128
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 1
    threads: int = 2
    folds: int = 3
    """Leave-source-out folds over the corpus sources (0: no cross-validation, no calibration)."""
