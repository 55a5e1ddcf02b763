"""Human reviews: what to review next (the review queue), and reviews as labelled training data
(FOLDER/<style>/reviews--<image id>.<ext>, the newest review wins)."""

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Literal

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from core.formats import BY_MEDIA_TYPE
from core.settings import Settings
from db.models import Image, ImageStatus, PredictionRole, StylePrediction, StyleSource
from images.fetch import FetchError, fetch
from model.training_config import REVIEWS


def export(
    *, session: Session, folder: Path, settings: Settings, only: Collection[int] | None = None
) -> tuple[list[int], list[str]]:
    """Write every reviewed image (or those of `only`) under its reviewed style, as source `reviews`;
    return the images written and those whose bytes could not be fetched (with why)."""
    from model.dataset import SOURCE_SEPARATOR  # numpy and the generator: not for the API that imports this module

    written: list[int] = []
    missing: list[str] = []
    query = select(Image.id, Image.style, Image.storage_ref, Image.content_type).where(
        Image.style_source == StyleSource.REVIEW
    )
    if only is not None:
        query = query.where(Image.id.in_(list(only)))
    for image_id, style, ref, content_type in session.execute(query.order_by(Image.id)):
        try:
            data = fetch(ref, settings)
        except FetchError as exc:
            missing.append(f"image {image_id}: {exc.code}: {exc.message}")
            continue
        known = BY_MEDIA_TYPE.get(content_type or "")
        name = f"{REVIEWS}{SOURCE_SEPARATOR}{image_id}"
        target = folder / str(style) / f"{name}.{known.extension if known else 'jpg'}"
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(f"*/{name}.*"):  # a re-review moves the file to its new style
            stale.unlink()
        target.write_bytes(data)
        written.append(image_id)
    return written, missing


Strategy = Literal["low_confidence", "disagreement", "random"]
MAX_EXCLUDED = 500


def review_queue(
    *, session: Session, size: int, strategy: Strategy, style: str | None = None, exclude: Sequence[int] = ()
) -> list[Image]:
    """Categorized images no human has reviewed, to review next: the least confident first, or
    those whose shadow prediction (the challenger's) disagrees with their style, or at random.
    `exclude`: ids the reviewer has already been shown (skipped ones)."""
    query = select(Image).where(Image.status == ImageStatus.CATEGORIZED, Image.style_source == StyleSource.MODEL)
    if style is not None:
        query = query.where(Image.style == style)
    if exclude:
        query = query.where(Image.id.not_in(list(exclude)[-MAX_EXCLUDED:]))
    if strategy == "disagreement":
        query = query.where(
            exists().where(
                StylePrediction.image_id == Image.id,
                StylePrediction.role == PredictionRole.SHADOW,
                StylePrediction.style != Image.style,
            )
        )
    order = [func.random()] if strategy == "random" else [Image.confidence.asc(), Image.id.asc()]
    return list(session.scalars(query.order_by(*order).limit(size)))
