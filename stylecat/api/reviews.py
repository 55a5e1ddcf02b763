"""GET /reviews/queue: what a reviewer should look at next (a key with the `review` scope)."""

from typing import Annotated

from fastapi import APIRouter, Query

from core.styles import STYLES
from producer.reviews import MAX_EXCLUDED, Strategy, review_queue
from stylecat.api.deps import ReviewKey, SessionDep
from stylecat.api.errors import ApiError
from stylecat.api.schemas import QueueItem, ReviewQueueOut, errors

router = APIRouter(prefix="/reviews", tags=["reviews"])


@router.get("/queue", response_model=ReviewQueueOut, responses=errors(401, 403, 422))
def queue(
    session: SessionDep,
    _: ReviewKey,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
    strategy: Strategy = "low_confidence",
    style: Annotated[str | None, Query(description=f"only images predicted as one of {', '.join(STYLES)}")] = None,
    exclude: Annotated[list[int], Query(max_length=MAX_EXCLUDED, description="ids already shown")] = [],  # noqa: B006
) -> ReviewQueueOut:
    """Categorized images no human has reviewed: the least confident first (`low_confidence`),
    those where the challenger's shadow prediction disagrees with the served style
    (`disagreement`), or a random sample (`random`)."""
    if style is not None and style not in STYLES:
        raise ApiError(422, "unknown_style", f"unknown style {style!r}; use {list(STYLES)}")
    images = review_queue(session=session, size=size, strategy=strategy, style=style, exclude=exclude)
    return ReviewQueueOut(
        items=[
            QueueItem(
                id=image.id,
                title=image.title,
                style=image.style or "",
                confidence=image.confidence,
                probs=image.style_probs,
                model_version=image.model_version,
                thumbnail=f"/images/{image.id}/thumbnail?size=512",
            )
            for image in images
        ]
    )
