"""Two model versions side by side on the same labelled images, and the gates a challenger must
pass to replace the champion: on every set it is scored on, no lower accuracy (less a tolerance)
and no class's F1 lower by more than a tolerance. F1, not recall: a model that calls everything
`3d` has a perfect 3d recall, and a recall gate would let it pass (or keep it as the champion)."""

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.styles import STYLES
from model.evaluation import report
from model.predictor import StylePredictor


@dataclass(frozen=True)
class Scored:
    report: dict[str, Any]
    """model.evaluation.report: n, accuracy, per-class precision/recall/F1, confusion."""
    ms_per_image: float
    """Decode-free forward time on this machine, per image."""

    def summary(self) -> dict[str, Any]:
        return {
            "n": self.report["n"],
            "accuracy": self.report["accuracy"],
            "recall": {style: m["recall"] for style, m in self.report["per_class"].items()},
            "f1": {style: m["f1"] for style, m in self.report["per_class"].items()},
            "ms_per_image": round(self.ms_per_image, 3),
        }


def score(predictor: StylePredictor, pixels: np.ndarray, labels: np.ndarray) -> Scored:
    """Accuracy and per-class figures of `predictor` on uint8 NHWC pixels at its input size."""
    started = time.perf_counter()
    predicted = predictor.probabilities(pixels).argmax(1) if len(pixels) else np.zeros(0, dtype=int)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return Scored(report(labels, predicted), elapsed_ms / max(1, len(pixels)))


@dataclass(frozen=True)
class Tolerances:
    accuracy: float
    """How much lower the challenger's accuracy may be on a set."""
    f1: float
    """How much lower its F1 of any class may be (classes the set holds)."""


def shortfalls(champion: dict[str, Scored], challenger: dict[str, Scored], tolerances: Tolerances) -> list[str]:
    """Where the challenger is worse than the champion, set by set; empty: it passes every gate."""
    found = []
    for name, theirs in challenger.items():
        ours = champion[name]
        if theirs.report["n"] == 0:
            continue
        if theirs.report["accuracy"] < ours.report["accuracy"] - tolerances.accuracy:
            found.append(
                f"{name}: accuracy {theirs.report['accuracy']:.4f} < champion's {ours.report['accuracy']:.4f}"
                + (f" - {tolerances.accuracy}" if tolerances.accuracy else "")
            )
        for style in STYLES:
            if ours.report["per_class"][style]["support"] == 0:
                continue
            mine, before = theirs.report["per_class"][style]["f1"], ours.report["per_class"][style]["f1"]
            if mine < before - tolerances.f1:
                found.append(f"{name}: F1 of {style} {mine:.4f} < champion's {before:.4f} - {tolerances.f1}")
    return found
