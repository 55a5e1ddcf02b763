"""The few write paths: new images, claims, predictions, failures, reviews and the indexer's outbox.

Every write that changes what search shows bumps `images.index_version`; the indexer works from that.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Float, bindparam, case, func, insert, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from db.models import Image, ImageStatus, PredictionRole, StylePrediction, StyleReview, StyleSource


@dataclass(frozen=True)
class NewImage:
    storage_ref: str
    title: str | None = None
    content_type: str | None = None
    size_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Prediction:
    image_id: int
    style: str
    probs: dict[str, float]
    latency_ms: float | None = None
    appearance: tuple[float, float] | None = None
    """(brightness, colourfulness) of the pixels the model saw, when the backend measured them."""

    @property
    def confidence(self) -> float:
        return self.probs[self.style]


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    backend: str


def create_image(*, session: Session, image: NewImage) -> int:
    """Insert a new image; its live job is sent once this commits (`live_since`, for the sweeper)."""
    values = {**image.__dict__, "live_since": func.now()}
    return session.execute(insert(Image).values(**values).returning(Image.id)).scalar_one()


def claim(
    *,
    session: Session,
    image_ids: Sequence[int],
    model: ModelRef,
    max_attempts: int,
    canary: Mapping[int, ModelRef] | None = None,
) -> list[Image]:
    """Mark the images `processing` and count an attempt; return those that need this model's run.

    Skipped: unknown ids, and images already categorized by the very model version that serves them
    (`model`, or the challenger for the images in `canary`), so a task run twice changes nothing.
    Images past `max_attempts` are failed with `too_many_attempts`.
    """
    # Wait for row locks, never skip: a row locked by the indexer (or a duplicate delivery) must still
    # be claimed once the lock is released, or its job would end without it. Id order avoids deadlocks.
    rows = session.scalars(select(Image).where(Image.id.in_(image_ids)).order_by(Image.id).with_for_update()).all()
    todo = []
    for row in rows:
        serving = (canary or {}).get(row.id, model)
        if row.status == ImageStatus.CATEGORIZED and (row.model_name, row.model_version) == (
            serving.name,
            serving.version,
        ):
            continue
        if row.attempts >= max_attempts:
            _fail(row, "too_many_attempts", f"gave up after {row.attempts} attempts")
            continue
        row.status = ImageStatus.PROCESSING
        row.attempts += 1
        todo.append(row)
    session.flush()
    return todo


def interrupted(*, session: Session, image_ids: Sequence[int]) -> bool:
    """Whether an earlier run of these images was cut off (its worker process died: out of memory,
    a crash, the hard time limit): some are still `processing` from it."""
    processing = select(Image.id).where(Image.id.in_(image_ids), Image.status == ImageStatus.PROCESSING).limit(1)
    return session.scalar(processing) is not None


def release(*, session: Session, image_ids: Sequence[int]) -> None:
    """Give claimed images back after a transient failure: that run does not count as an attempt
    (attempts cap poison images and crashed workers, not an endpoint that is briefly away)."""
    session.execute(
        update(Image)
        .where(Image.id.in_(image_ids), Image.status == ImageStatus.PROCESSING)
        .values(status=ImageStatus.QUEUED.value, attempts=func.greatest(Image.attempts - 1, 0))
    )


def defer(*, session: Session, unavailable: dict[int, str], budget: int) -> tuple[list[int], list[int]]:
    """Images whose source was briefly unavailable: each spends one of its `budget` transient
    failures and goes back to `queued` (not counted as an attempt), or, out of budget, is failed
    with `source_unavailable`. Returns (ids to retry, ids failed)."""
    retry: list[int] = []
    failed: list[int] = []
    for image_id, message in sorted(unavailable.items()):
        row = session.get(Image, image_id, with_for_update=True)
        if row is None or row.status != ImageStatus.PROCESSING:
            continue
        row.transient_failures += 1
        row.attempts = max(row.attempts - 1, 0)
        if row.transient_failures >= budget:
            _fail(row, "source_unavailable", f"source unavailable {row.transient_failures} times; last: {message}")
            failed.append(image_id)
        else:
            row.status = ImageStatus.QUEUED
            retry.append(image_id)
    session.flush()
    return retry, failed


def record_predictions(
    *,
    session: Session,
    predictions: Sequence[Prediction],
    model: ModelRef,
    role: PredictionRole = PredictionRole.SERVED,
) -> None:
    """Append each prediction to the history (once per image, model version and role) and make it the
    image's style, unless a human reviewed the image: a review is never overwritten. `role` is
    `served`, or `canary` when the challenger serves the image."""
    if not predictions:
        return
    _append_history(session, predictions, model, role)
    model_owns_style = Image.style_source.is_distinct_from(StyleSource.REVIEW.value)
    statement = (
        update(Image)
        .where(Image.id == bindparam("b_id"))
        .values(
            status=ImageStatus.CATEGORIZED.value,
            attempts=0,
            transient_failures=0,
            error_code=None,
            error_message=None,
            model_name=model.name,
            model_version=model.version,
            predicted_at=func.now(),
            index_version=Image.index_version + 1,
            style=case((model_owns_style, bindparam("b_style")), else_=Image.style),
            style_probs=case((model_owns_style, bindparam("b_probs", type_=JSONB)), else_=Image.style_probs),
            confidence=case((model_owns_style, bindparam("b_confidence")), else_=Image.confidence),
            style_source=case((model_owns_style, StyleSource.MODEL.value), else_=Image.style_source),
            brightness=func.coalesce(bindparam("b_brightness", type_=Float), Image.brightness),
            colourfulness=func.coalesce(bindparam("b_colourfulness", type_=Float), Image.colourfulness),
        )
    )
    session.connection().execute(
        statement,
        [
            {
                "b_id": p.image_id,
                "b_style": p.style,
                "b_probs": p.probs,
                "b_confidence": p.confidence,
                "b_brightness": p.appearance[0] if p.appearance else None,
                "b_colourfulness": p.appearance[1] if p.appearance else None,
            }
            for p in predictions
        ],
    )


def record_shadow(*, session: Session, predictions: Sequence[Prediction], model: ModelRef) -> None:
    """Append the challenger's shadow predictions to the history; the images, their styles and the
    index stay as they are."""
    if predictions:
        _append_history(session, predictions, model, PredictionRole.SHADOW)


def _append_history(session: Session, predictions: Sequence[Prediction], model: ModelRef, role: PredictionRole) -> None:
    """One statement for the batch; as an executemany its compiled form is cached (a multi-row
    VALUES built per call took about 25 ms for 64 rows, mostly compiling)."""
    session.execute(
        pg_insert(StylePrediction).on_conflict_do_nothing(
            index_elements=["image_id", "model_name", "model_version", "role"]
        ),
        [
            {
                "image_id": p.image_id,
                "model_name": model.name,
                "model_version": model.version,
                "role": role,
                "backend": model.backend,
                "style": p.style,
                "probs": p.probs,
                "confidence": p.confidence,
                "latency_ms": p.latency_ms,
            }
            for p in predictions
        ],
    )


def _fail(row: Image, code: str, message: str) -> None:
    row.status = ImageStatus.FAILED
    row.error_code = code
    row.error_message = message[:2000]
    row.index_version += 1


def mark_failed(*, session: Session, image_id: int, code: str, message: str) -> None:
    row = session.get(Image, image_id, with_for_update=True)
    if row is not None:
        _fail(row, code, message)


def add_review(
    *, session: Session, image_id: int, style: str, reviewer: str, api_key_id: int | None = None
) -> Image | None:
    """Record a human correction; from now on it is the image's style. None if the image is unknown."""
    row = session.get(Image, image_id, with_for_update=True)
    if row is None:
        return None
    session.add(StyleReview(image_id=image_id, style=style, reviewer=reviewer, api_key_id=api_key_id))
    row.style = style
    row.style_source = StyleSource.REVIEW
    row.index_version += 1
    session.flush()
    return row
