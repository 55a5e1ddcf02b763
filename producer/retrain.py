"""`stylecat retrain`: human reviews back into training.

The reviewed images are split by a hash of their id: most are trained on, and the run records
which (`trained_reviews.json`); the others are held out, so that `model compare` scores the new
version on reviews it never saw. The new version starts from the champion's weights (fine-tuning)
unless told to start afresh, is registered, gets alias `challenger`, and is compared with the
champion at once.
"""

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select

from core.settings import Settings
from core.shares import share
from db.models import Image, StyleSource
from db.session import SessionFactory
from model import registry
from model.training_config import TrainConfig
from producer.lifecycle import (
    CHALLENGER,
    CHAMPION,
    TRAINED_REVIEWS,
    Comparison,
    LifecycleError,
    compare,
    version_of,
)
from producer.reviews import export

HOLDOUT_SALT = "review-holdout"


@dataclass
class Retrained:
    version: str
    champion: str
    trained: list[int]
    """Reviewed images trained on."""
    held_out: list[int]
    missing: list[str]
    """Reviewed images whose bytes could not be fetched (not trained on)."""
    comparison: Comparison


def split(image_ids: Sequence[int], holdout: float) -> tuple[list[int], list[int]]:
    """(to train on, held out): an image is held out for good, whatever else has been reviewed."""
    held = [i for i in image_ids if share(i, HOLDOUT_SALT) < holdout]
    return [i for i in image_ids if share(i, HOLDOUT_SALT) >= holdout], held


def retrain(
    *,
    session_factory: SessionFactory,
    settings: Settings,
    config: TrainConfig,
    holdout: float,
    fine_tune: bool,
    n_synthetic: int,
) -> Retrained:
    from model.training import train  # torch: only for the command that trains

    client = registry.configure(settings)
    registry.ensure_champion(client, settings.model_name)
    champion = version_of(client, settings.model_name, CHAMPION)
    with session_factory() as session:
        reviewed = list(session.scalars(select(Image.id).where(Image.style_source == StyleSource.REVIEW)))
    to_train, held_out = split(reviewed, holdout)
    if not to_train:
        raise LifecycleError(
            f"no reviewed images to train on ({len(reviewed)} reviewed, {len(held_out)} held out): review some first"
        )
    with tempfile.TemporaryDirectory(prefix="stylecat-retrain-") as folder:
        reviews = Path(folder) / "reviews"
        with session_factory() as session:
            trained, missing = export(session=session, folder=reviews, settings=settings, only=to_train)
        if not trained:
            raise LifecycleError(f"none of the {len(to_train)} reviewed images could be fetched: {missing[:3]}")
        init = None
        if fine_tune:
            resolved = registry.resolve(client, f"models:/{settings.model_name}/{champion}")
            init = registry.download_weights(resolved)
        result = train(
            replace(config, reviews=reviews, init=init),
            settings,
            records={TRAINED_REVIEWS: {"image_ids": trained, "held_out": held_out, "champion": champion}},
        )
    registry.promote(client, settings.model_name, result.version, CHALLENGER)
    with session_factory() as session:
        comparison = compare(
            client=client,
            session=session,
            settings=settings,
            champion=champion,
            challenger=result.version,
            n_synthetic=n_synthetic,
        )
    return Retrained(result.version, champion, trained, held_out, missing, comparison)
