"""Accuracy, per-class precision/recall/F1 and the confusion matrix of predictions against labels."""

from typing import TYPE_CHECKING, Any

import numpy as np

from core.styles import STYLES

if TYPE_CHECKING:
    from model.predictor import StylePredictor


def predict_labels(predictor: "StylePredictor", pixels: np.ndarray, batch: int = 256) -> np.ndarray:
    """The class the predictor gives each image of uint8 NHWC `pixels`, `batch` at a time."""
    return np.concatenate(
        [predictor.probabilities(pixels[i : i + batch]).argmax(1) for i in range(0, len(pixels), batch)]
    )


def report(labels: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    k = len(STYLES)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = {}
    for c, style in enumerate(STYLES):
        precision = confusion[c, c] / max(confusion[:, c].sum(), 1)
        recall = confusion[c, c] / max(confusion[c].sum(), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        per_class[style] = {
            "precision": round(float(precision), 4),
            "recall": round(float(recall), 4),
            "f1": round(float(f1), 4),
            "support": int(confusion[c].sum()),
        }
    return {
        "n": int(len(labels)),
        "accuracy": round(float((labels == predicted).mean()), 4) if len(labels) else 0.0,
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "labels": list(STYLES),
    }


def format_report(result: dict[str, Any]) -> str:
    lines = [
        f"n = {result['n']}   accuracy = {result['accuracy']:.4f}",
        "",
        f"{'style':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for style, m in result["per_class"].items():
        lines.append(f"{style:<12}{m['precision']:>10.4f}{m['recall']:>10.4f}{m['f1']:>10.4f}{m['support']:>10}")
    lines += ["", "confusion (rows = true, columns = predicted)", " " * 12 + "".join(f"{s:>11}" for s in STYLES)]
    for style, row in zip(STYLES, result["confusion"], strict=True):
        lines.append(f"{style:<12}" + "".join(f"{n:>11}" for n in row))
    return "\n".join(lines)


def format_sources(result: dict[str, Any]) -> str:
    """Per-source accuracy of a leave-source-out report, worst first."""
    lines = [f"{'source':<20}{'style':<12}{'fold':>5}{'n':>6}{'accuracy':>10}  predicted as"]
    for name, m in sorted(result["per_source"].items(), key=lambda item: item[1]["accuracy"]):
        called = ", ".join(f"{style} {n}" for style, n in m["predicted"].items() if n)
        lines.append(f"{name:<20}{m['style']:<12}{m['fold']:>5}{m['n']:>6}{m['accuracy']:>10.4f}  {called}")
    return "\n".join(lines)


def confusion_figure(result: dict[str, Any]):  # type: ignore[no-untyped-def]
    """A matplotlib figure of the confusion matrix, for MLflow."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    matrix = np.array(result["confusion"])
    figure, axes = plt.subplots(figsize=(5, 4.5))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(STYLES)), STYLES, rotation=30)
    axes.set_yticks(range(len(STYLES)), STYLES)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for (i, j), n in np.ndenumerate(matrix):
        axes.text(j, i, str(n), ha="center", va="center", color="white" if n > matrix.max() / 2 else "black")
    axes.set_title(f"accuracy {result['accuracy']:.3f} (n={result['n']})")
    figure.tight_layout()
    return figure
