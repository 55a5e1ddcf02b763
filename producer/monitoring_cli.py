"""CLI of drift monitoring: `stylecat monitor drift`."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from core.settings import get_settings
from core.styles import STYLES

DRIFT_EXIT = 2


def _reference(value: str | None) -> tuple[datetime, datetime] | None:
    if value is None:
        return None
    first, separator, last = value.partition("..")
    try:
        bounds = tuple(datetime.fromisoformat(part) for part in (first, last)) if separator else ()
    except ValueError:
        bounds = ()
    if len(bounds) != 2 or bounds[0] >= bounds[1]:
        raise typer.BadParameter(f"expected FROM..TO, two ISO dates in order (2026-11-01..2026-11-08), not {value!r}")
    return tuple(b if b.tzinfo else b.replace(tzinfo=UTC) for b in bounds)  # type: ignore[return-value]


def drift(
    window: Annotated[str, typer.Option(help="1h or 1d.")] = "1d",
    windows: Annotated[int, typer.Option(min=1, max=1000, help="How many windows, up to now.")] = 7,
    reference: Annotated[
        str | None, typer.Option(help="FROM..TO (ISO dates); default: the serving version's first week.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG of style share and confidence per window.")] = None,
) -> None:
    """Style share, confidence, input statistics and failures per window against the reference (PSI,
    chi-square); exits 2 when the newest judged window crosses a threshold."""
    from db.session import session_scope
    from producer.monitoring import WINDOWS
    from producer.monitoring import drift as run_drift

    if window not in WINDOWS:
        raise typer.BadParameter(f"--window must be one of {sorted(WINDOWS)}, not {window!r}")
    settings = get_settings()
    with session_scope() as session:
        report = run_drift(
            session=session, settings=settings, window=WINDOWS[window], count=windows, reference=_reference(reference)
        )
    if report is None:
        typer.echo("no predictions yet: nothing to compare")
        return
    found = report.as_json(settings)
    if plot is not None:
        _plot(found, plot)
    typer.echo(json.dumps(found) if as_json else _table(found))
    if report.alerts:
        raise typer.Exit(DRIFT_EXIT)


def _table(found: dict[str, Any]) -> str:
    ref = found["reference"]
    lines = [f"reference {ref['from']} .. {ref['to']}: n {ref['n']}  {_shares(ref)}"]
    lines.append(f"{'window':<26}{'n':>7}  {'style share':<52}{'conf':>6}{'low':>6}{'fail':>6}  psi(style)  chi2 p")
    for w in found["windows"]:
        p = f"{w['chi2_p']:.1e}" if w["chi2_p"] is not None else "-"
        psi = w["psi"]["style"]
        lines.append(
            f"{w['start']:<26}{w['n']:>7}  {_shares(w):<52}{_figure(w['confidence_mean']):>6}"
            f"{_figure(w['low_confidence_share']):>6}{_figure(w['failure_rate']):>6}  "
            f"{_figure(psi):>10}  {p}" + ("  ALERT: " + "; ".join(w["alerts"]) if w["alerts"] else "")
        )
    return "\n".join(lines)


def _shares(figures: dict[str, Any]) -> str:
    return " ".join(f"{s} {_figure(figures['style_share'][s])}" for s in STYLES)


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _plot(found: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    windows = found["windows"]
    starts = [w["start"][:16] for w in windows]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    bottom_of = [0.0] * len(windows)
    for style in STYLES:
        values = [w["style_share"][style] or 0.0 for w in windows]
        top.bar(starts, values, bottom=bottom_of, label=style)
        bottom_of = [b + v for b, v in zip(bottom_of, values, strict=True)]
    top.set_ylabel("style share")
    top.legend(loc="upper left", fontsize="small")
    bottom.plot(starts, [w["confidence_mean"] for w in windows], marker="o", label="mean confidence")
    bottom.plot(starts, [w["low_confidence_share"] for w in windows], marker="x", label="low-confidence share")
    for n, w in enumerate(windows):
        if w["alerts"]:
            bottom.axvspan(n - 0.5, n + 0.5, color="red", alpha=0.15)
    bottom.set_ylim(0, 1)
    bottom.legend(loc="lower left", fontsize="small")
    bottom.tick_params(axis="x", rotation=45)
    figure.suptitle("stylecat drift (red: alert)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
