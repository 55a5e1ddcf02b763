"""The models page's charts as plain SVG geometry (no script, no library): per window, a stacked bar
of the style shares and a point of the mean confidence; windows with a drift alert are marked."""

from dataclasses import dataclass
from typing import Any

from core.styles import STYLES

WIDTH, HEIGHT, PAD = 760, 200, 28


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    style: str
    title: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    confidence: str
    """`points` of the mean-confidence polyline (windows without predictions are skipped)."""
    alerts: list[tuple[float, float, str]]
    """(x, width, why) of each window with a drift alert."""
    labels: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT


def chart(windows: list[dict[str, Any]]) -> Chart:
    step = (WIDTH - 2 * PAD) / max(1, len(windows))
    inner = HEIGHT - 2 * PAD
    bars, points, alerts, labels = [], [], [], []
    for n, window in enumerate(windows):
        x = PAD + n * step
        top: float = HEIGHT - PAD
        for style in STYLES:
            share = window["style_share"][style] or 0.0
            if share:
                top -= share * inner
                title = f"{window['start'][:16]}: {style} {share:.0%} of {window['n']}"
                bars.append(
                    Bar(round(x + 2, 1), round(top, 1), round(step - 4, 1), round(share * inner, 1), style, title)
                )
        if window["confidence_mean"] is not None:
            points.append(f"{x + step / 2:.1f},{HEIGHT - PAD - window['confidence_mean'] * inner:.1f}")
        if window["alerts"]:
            alerts.append((round(x, 1), round(step, 1), "; ".join(window["alerts"])))
        if n % max(1, len(windows) // 7) == 0:
            labels.append(
                (
                    round(x + step / 2, 1),
                    window["start"][5:10] if "T00:00" in window["start"] else window["start"][11:16],
                )
            )
    return Chart(bars, " ".join(points), alerts, labels)
