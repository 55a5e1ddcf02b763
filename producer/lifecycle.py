"""The model lifecycle around the registry: compare two versions on the same images (the evaluation
set and the reviewed images neither trained on) and on what they did in production (shadow
agreement, canary share); promote the challenger only through the gates; roll back.

Aliases: `champion` serves, `challenger` is tried beside it, `previous` is the champion before the
last promotion (what `rollback` restores).
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from core.settings import Settings
from core.styles import STYLES
from core.threads import model_threads
from db.models import CanaryHalt, Image, PredictionRole, StylePrediction, StyleSource
from images.fetch import FetchError, fetch
from model import registry
from model.comparison import Scored, Tolerances, score, shortfalls
from model.preprocess import ImageDecodeError

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"
EVALUATION_SET, REVIEWS_SET = "evaluation", "held_out_reviews"
TRAINED_REVIEWS = "trained_reviews.json"
"""In a retrained version's run: the reviewed images it trained on (never scored on them)."""


class LifecycleError(Exception):
    """An operation the registry's state does not allow (no such alias, nothing to roll back to)."""


@dataclass
class Comparison:
    champion: str
    challenger: str
    scores: dict[str, dict[str, Scored]]
    """version -> set name -> figures."""
    production: dict[str, Any]
    shortfalls: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "champion": self.champion,
            "challenger": self.challenger,
            "sets": {
                version: {name: scored.summary() for name, scored in sets.items()}
                for version, sets in self.scores.items()
            },
            "production": self.production,
            "shortfalls": self.shortfalls,
        }


def version_of(client: MlflowClient, name: str, ref: str) -> str:
    """A version number or an alias (`champion`, `challenger`, `previous`) to the version it names."""
    try:
        if ref.isdigit():
            return str(client.get_model_version(name, ref).version)
        return str(client.get_model_version_by_alias(name, ref).version)
    except MlflowException as exc:
        if registry.is_unset(exc):
            raise LifecycleError(f"{name} has no version or alias {ref!r}") from None
        raise


def trained_reviews(client: MlflowClient, name: str, version: str) -> set[int]:
    """The reviewed images a version trained on, as its run recorded them (none for other versions)."""
    run_id = client.get_model_version(name, version).run_id
    if not run_id or TRAINED_REVIEWS not in {a.path for a in client.list_artifacts(run_id)}:
        return set()
    return {int(i) for i in mlflow.artifacts.load_dict(f"runs:/{run_id}/{TRAINED_REVIEWS}")["image_ids"]}


def reviewed(session: Session, exclude: set[int], limit: int) -> list[tuple[int, str, str]]:
    """(image id, reviewed style, storage ref) of the newest reviewed images, less `exclude`."""
    rows = session.execute(
        select(Image.id, Image.style, Image.storage_ref)
        .where(Image.style_source == StyleSource.REVIEW)
        .order_by(Image.id.desc())
        .limit(limit + len(exclude))
    )
    return [(i, str(style), ref) for i, style, ref in rows if i not in exclude][:limit]


def production(session: Session, champion: str, challenger: str) -> dict[str, Any]:
    """What the two versions did on live traffic: how often the challenger's shadow prediction agreed
    with the champion's, and the share of images the challenger served as the canary."""
    shadow, served = aliased(StylePrediction), aliased(StylePrediction)
    agreement = session.execute(
        select(func.count(), func.count().filter(shadow.style == served.style))
        .select_from(shadow)
        .join(served, (served.image_id == shadow.image_id) & (served.role == PredictionRole.SERVED))
        .where(
            shadow.role == PredictionRole.SHADOW,
            shadow.model_version == challenger,
            served.model_version == champion,
        )
    ).one()
    counts = dict(
        session.execute(
            select(StylePrediction.role, func.count())
            .where(
                ((StylePrediction.role == PredictionRole.SERVED) & (StylePrediction.model_version == champion))
                | ((StylePrediction.role == PredictionRole.CANARY) & (StylePrediction.model_version == challenger))
            )
            .group_by(StylePrediction.role)
        ).all()
    )
    latency: dict[str, float | None] = dict(
        session.execute(
            select(StylePrediction.model_version, func.avg(StylePrediction.latency_ms))
            .where(StylePrediction.model_version.in_([champion, challenger]))
            .group_by(StylePrediction.model_version)
        ).all()
    )
    canary, served_n = counts.get(PredictionRole.CANARY, 0), counts.get(PredictionRole.SERVED, 0)
    return {
        "shadow_predictions": agreement[0],
        "shadow_agreement": round(agreement[1] / agreement[0], 4) if agreement[0] else None,
        "canary_predictions": canary,
        "canary_share": round(canary / (canary + served_n), 4) if canary + served_n else None,
        "served_latency_ms": {version: round(float(ms), 3) for version, ms in latency.items() if ms is not None},
    }


def compare(
    *, client: MlflowClient, session: Session, settings: Settings, champion: str, challenger: str, n_synthetic: int
) -> Comparison:
    """Both versions on the evaluation set (`evaluation_data`, or the synthetic held-out split) and on
    the newest `compare_max_reviews` reviewed images neither trained on; the gates decide on both
    (reviews only from `promote_min_reviews` images)."""
    name = settings.model_name
    threads = model_threads(settings, 1)
    predictors = {
        version: registry.load_predictor(registry.resolve(client, f"models:/{name}/{version}"), threads)
        for version in (champion, challenger)
    }
    exclude = trained_reviews(client, name, champion) | trained_reviews(client, name, challenger)
    images = _reviewed_bytes(reviewed(session, exclude, settings.compare_max_reviews), settings)
    decoded = {v: p.decode([data for data, _ in images], settings.max_image_pixels) for v, p in predictors.items()}
    usable = [n for n in range(len(images)) if not any(isinstance(d[n], ImageDecodeError) for d in decoded.values())]
    labels = np.array([images[n][1] for n in usable], dtype=int)
    evaluation_sets = {  # made once per input size: the two versions usually share it
        size: _evaluation_set(settings, size, n_synthetic) for size in {p.image_size for p in predictors.values()}
    }
    scores: dict[str, dict[str, Scored]] = {}
    for version, predictor in predictors.items():
        size = predictor.image_size
        arrays = [d for n in usable if isinstance(d := decoded[version][n], np.ndarray)]
        pixels = np.stack(arrays) if arrays else np.zeros((0, size, size, 3), np.uint8)
        scores[version] = {
            EVALUATION_SET: score(predictor, *evaluation_sets[size]),
            REVIEWS_SET: score(predictor, pixels, labels),
        }
    gated = {
        version: {k: v for k, v in sets.items() if k != REVIEWS_SET or v.report["n"] >= settings.promote_min_reviews}
        for version, sets in scores.items()
    }
    tolerances = Tolerances(accuracy=settings.promote_max_accuracy_drop, f1=settings.promote_max_f1_drop)
    return Comparison(
        champion=champion,
        challenger=challenger,
        scores=scores,
        production=production(session, champion, challenger),
        shortfalls=shortfalls(gated[champion], gated[challenger], tolerances),
    )


def _evaluation_set(settings: Settings, size: int, n_synthetic: int) -> tuple[np.ndarray, np.ndarray]:
    from model.dataset import TEST_SEED, folder_split, synthetic_split

    if settings.evaluation_data is not None:
        pixels, labels, _ = folder_split(Path(settings.evaluation_data), size)
        return pixels, labels
    return synthetic_split(n_synthetic, TEST_SEED, size)


def _reviewed_bytes(rows: list[tuple[int, str, str]], settings: Settings) -> list[tuple[bytes, int]]:
    """(bytes, class index) of each reviewed image whose bytes can still be fetched."""
    found = []
    for _, style, ref in rows:
        try:
            found.append((fetch(ref, settings), STYLES.index(style)))
        except FetchError:
            continue  # a reviewed image whose bytes are gone is not scored
    return found


@dataclass
class Promotion:
    version: str
    previous: str | None
    """The champion before; None if there was none."""
    comparison: Comparison | None
    """What decided (none when there was no other champion to compare with)."""
    refused: bool


def promote(
    *,
    client: MlflowClient,
    session: Session,
    settings: Settings,
    target: str,
    force: bool,
    n_synthetic: int,
) -> Promotion:
    """Make `target` (a version or an alias) the champion when it passes the gates against the
    champion (or `force`); keep the old champion as `previous`; a challenger that is promoted stops
    being one."""
    name = settings.model_name
    version = version_of(client, name, target)
    try:
        current: str | None = version_of(client, name, CHAMPION)
    except LifecycleError:
        current = None
    comparison = None
    if current is not None and current != version:
        comparison = compare(
            client=client,
            session=session,
            settings=settings,
            champion=current,
            challenger=version,
            n_synthetic=n_synthetic,
        )
        if comparison.shortfalls and not force:
            return Promotion(version, current, comparison, refused=True)
    registry.promote(client, name, version, CHAMPION)
    if current is not None and current != version:
        registry.promote(client, name, current, PREVIOUS)
    if _alias(client, name, CHALLENGER) == version:
        client.delete_registered_model_alias(name, CHALLENGER)
    return Promotion(version, current, comparison, refused=False)


def rollback(*, client: MlflowClient, name: str) -> tuple[str, str]:
    """Point `champion` back at `previous` and `previous` at the champion it replaces; (from, to)."""
    before, restored = _alias(client, name, CHAMPION), _alias(client, name, PREVIOUS)
    if restored is None or before is None:
        raise LifecycleError("nothing to roll back to: no version has alias 'previous' (set by a promotion)")
    registry.promote(client, name, restored, CHAMPION)
    registry.promote(client, name, before, PREVIOUS)
    return before, restored


def _alias(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return version_of(client, name, alias)
    except LifecycleError:
        return None


def status(*, client: MlflowClient, session: Session, settings: Settings) -> dict[str, Any]:
    """Aliases, fractions, and per version that served as the canary: its signals and its halt."""
    from worker.canary import canary_versions, signals
    from worker.dispatch import redis_client

    name = settings.model_name
    try:
        aliases = {alias: str(v) for alias, v in sorted(client.get_registered_model(name).aliases.items())}
    except MlflowException as exc:
        if not registry.is_unset(exc):
            raise
        aliases = {}
    redis = redis_client(settings.redis_url)
    halts = {h.model_version: h for h in session.scalars(select(CanaryHalt).where(CanaryHalt.model_name == name))}
    canaries = []
    for model_name, version in sorted(canary_versions(session, redis)):
        if model_name != name:
            continue
        halt = halts.get(version)
        canaries.append(
            {
                "version": version,
                "signals": signals(session, redis, name, version).as_json(),
                "halted": {"at": halt.created_at.isoformat(), "reason": halt.reason, "requeued": halt.requeued}
                if halt
                else None,
            }
        )
    return {
        "aliases": aliases,
        "shadow_fraction": settings.shadow_fraction,
        "canary_fraction": settings.canary_fraction,
        "canaries": canaries,
    }


def overview(*, session: Session, settings: Settings) -> dict[str, Any]:
    """What the models page shows: every version with its aliases and figures, the state of the
    challenger (fractions, canary signals or halt) and, with a challenger, its production figures."""
    client = registry.configure(settings)
    found = status(client=client, session=session, settings=settings)
    aliases = found["aliases"]
    champion, challenger = aliases.get(CHAMPION), aliases.get(CHALLENGER)
    return {
        **found,
        "versions": registry.versions(client, settings.model_name),
        "production": production(session, champion, challenger) if champion and challenger else None,
    }
