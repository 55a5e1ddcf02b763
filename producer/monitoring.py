"""Drift monitoring: per time window, what the served models predicted (share of each style, mean
confidence, share of low confidences), what they were shown (brightness, colourfulness, aspect,
size) and what failed (by error code), each compared with a reference window by the population
stability index (PSI) and, for the style mix, a chi-square test.

The reference is a date range, or by default the first week of the version that served the newest
prediction (the champion's first week). A window is judged once it holds `drift_min_images`.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from scipy.stats import chisquare
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.settings import Settings
from core.styles import STYLES
from db.models import Image, ImageStatus, PredictionRole, StylePrediction

WINDOWS = {"1h": timedelta(hours=1), "1d": timedelta(days=1)}
REFERENCE_LENGTH = timedelta(days=7)
EDGES = {
    "confidence": np.linspace(0.25, 1.0, 7),
    "brightness": np.linspace(0.0, 1.0, 11),
    "colourfulness": np.array([0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]),
    "aspect": np.array([-np.inf, -1.0, -0.4, -0.1, 0.1, 0.4, 1.0, np.inf]),  # log2(width / height)
    "megapixels": np.array([0.0, 0.05, 0.25, 1.0, 4.0, np.inf]),
}
"""Bins of each continuous signal (the style is its own four bins)."""
SMOOTHING = 1e-4


@dataclass
class Sample:
    """Predictions of a period, one value per prediction and signal (NaN where unknown)."""

    styles: np.ndarray
    signals: dict[str, np.ndarray]
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.styles)


@dataclass
class Window:
    start: datetime
    sample: Sample
    psi: dict[str, float | None]
    chi2_p: float | None
    alerts: list[str]

    def as_json(self, low_confidence: float) -> dict[str, Any]:
        figures = describe(self.sample, low_confidence)
        return {
            "start": self.start.isoformat(),
            **figures,
            "psi": self.psi,
            "chi2_p": self.chi2_p,
            "alerts": self.alerts,
        }


def describe(sample: Sample, low_confidence: float) -> dict[str, Any]:
    confidence = sample.signals["confidence"]
    failed = sum(sample.failures.values())
    return {
        "n": sample.n,
        "style_share": {s: _round(float((sample.styles == s).mean())) if sample.n else None for s in STYLES},
        "confidence_mean": _mean(confidence),
        "low_confidence_share": _round(float((confidence < low_confidence).mean())) if sample.n else None,
        "brightness_mean": _mean(sample.signals["brightness"]),
        "colourfulness_mean": _mean(sample.signals["colourfulness"]),
        "aspect_median": _median(np.exp2(sample.signals["aspect"])),
        "megapixels_median": _median(sample.signals["megapixels"]),
        "failed": sample.failures,
        "failure_rate": _round(failed / (failed + sample.n)) if failed + sample.n else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 4)


def _mean(values: np.ndarray) -> float | None:
    known = values[~np.isnan(values)]
    return _round(float(known.mean())) if len(known) else None


def _median(values: np.ndarray) -> float | None:
    known = values[~np.isnan(values)]
    return _round(float(np.median(known))) if len(known) else None


def sample(session: Session, start: datetime, end: datetime, version: str | None = None) -> Sample:
    """The served and canary predictions made in [start, end) (of one version if given), and the
    images that failed in that period, by error code."""
    query = (
        select(
            StylePrediction.style,
            StylePrediction.confidence,
            Image.brightness,
            Image.colourfulness,
            Image.width,
            Image.height,
        )
        .join(Image, Image.id == StylePrediction.image_id)
        .where(
            StylePrediction.role.in_([PredictionRole.SERVED, PredictionRole.CANARY]),
            StylePrediction.created_at >= start,
            StylePrediction.created_at < end,
        )
    )
    if version is not None:
        query = query.where(StylePrediction.model_version == version)
    rows = session.execute(query).all()
    failures = session.execute(
        select(Image.error_code, func.count())
        .where(Image.status == ImageStatus.FAILED, Image.updated_at >= start, Image.updated_at < end)
        .group_by(Image.error_code)
    ).all()

    def column(index: int) -> np.ndarray:
        return np.array([np.nan if row[index] is None else row[index] for row in rows], dtype=float)

    width, height = column(4), column(5)
    with np.errstate(divide="ignore", invalid="ignore"):
        aspect = np.log2(width / height)
    return Sample(
        styles=np.array([row[0] for row in rows], dtype=object),
        signals={
            "confidence": column(1),
            "brightness": column(2),
            "colourfulness": column(3),
            "aspect": aspect,
            "megapixels": width * height / 1e6,
        },
        failures={str(code): int(n) for code, n in failures},
    )


def default_reference(session: Session) -> tuple[datetime, datetime] | None:
    """The first week of the version that served the newest prediction; None without predictions."""
    newest = session.scalar(
        select(StylePrediction.model_version)
        .where(StylePrediction.role == PredictionRole.SERVED)
        .order_by(StylePrediction.created_at.desc(), StylePrediction.id.desc())
        .limit(1)
    )
    if newest is None:
        return None
    first = session.scalar(
        select(func.min(StylePrediction.created_at)).where(
            StylePrediction.role == PredictionRole.SERVED, StylePrediction.model_version == newest
        )
    )
    assert first is not None
    return first, first + REFERENCE_LENGTH


def shares(values: np.ndarray, edges: np.ndarray | None) -> np.ndarray:
    """Share per bin (the four styles when `edges` is None), smoothed so that no bin is empty."""
    if edges is None:
        counts = np.array([(values == s).sum() for s in STYLES], dtype=float)
    else:
        known = values[~np.isnan(values)]
        counts = np.histogram(np.clip(known, edges[0], edges[-1]), bins=edges)[0].astype(float)
    total = counts.sum()
    if total == 0:
        return np.full(len(counts), np.nan)
    return (counts / total + SMOOTHING) / (1 + SMOOTHING * len(counts))


def psi(expected: np.ndarray, actual: np.ndarray) -> float | None:
    if np.isnan(expected).any() or np.isnan(actual).any():
        return None
    return round(float(np.sum((actual - expected) * np.log(actual / expected))), 4)


def compare_window(start: datetime, window: Sample, reference: Sample, settings: Settings) -> Window:
    found: dict[str, float | None] = {"style": psi(shares(reference.styles, None), shares(window.styles, None))}
    for name, edges in EDGES.items():
        found[name] = psi(shares(reference.signals[name], edges), shares(window.signals[name], edges))
    chi2_p = None
    alerts = []
    if window.n >= settings.drift_min_images and reference.n >= settings.drift_min_images:
        expected = shares(reference.styles, None) * window.n
        observed = np.array([(window.styles == s).sum() for s in STYLES], dtype=float)
        chi2_p = float(chisquare(observed, f_exp=expected * observed.sum() / expected.sum()).pvalue)
        if chi2_p < settings.drift_p_value:
            alerts.append(f"style mix: chi-square p = {chi2_p:.2e} < {settings.drift_p_value}")
        alerts += [
            f"{name}: PSI {value:.3f} > {settings.drift_psi_threshold}"
            for name, value in found.items()
            if value is not None and value > settings.drift_psi_threshold
        ]
    return Window(start, window, found, chi2_p, alerts)


@dataclass
class Report:
    reference: tuple[datetime, datetime]
    reference_sample: Sample
    windows: list[Window]

    @property
    def alerts(self) -> list[str]:
        """The alerts of the newest window that holds enough images to be judged."""
        judged = [w for w in self.windows if w.chi2_p is not None]
        return judged[-1].alerts if judged else []

    def as_json(self, settings: Settings) -> dict[str, Any]:
        return {
            "reference": {
                "from": self.reference[0].isoformat(),
                "to": self.reference[1].isoformat(),
                **describe(self.reference_sample, settings.drift_low_confidence),
            },
            "windows": [w.as_json(settings.drift_low_confidence) for w in self.windows],
            "alerts": self.alerts,
        }


def drift(
    *,
    session: Session,
    settings: Settings,
    window: timedelta,
    count: int,
    reference: tuple[datetime, datetime] | None = None,
    now: datetime | None = None,
) -> Report | None:
    """The last `count` windows up to `now`, each against the reference; None without predictions."""
    reference = reference or default_reference(session)
    if reference is None:
        return None
    now = now or datetime.now(UTC)
    step = window.total_seconds()
    base = datetime.fromtimestamp(math.floor(now.timestamp() / step) * step, tz=UTC)  # windows start on the hour or day
    reference_sample = sample(session, *reference)
    windows = []
    for k in range(count - 1, -1, -1):
        start = base - k * window
        windows.append(compare_window(start, sample(session, start, start + window), reference_sample, settings))
    return Report(reference, reference_sample, windows)
