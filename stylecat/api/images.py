"""Routes of the producer: upload, register, read an image's state and thumbnail, review it."""

import logging
from typing import Annotated

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, File, Form, Header, Query, Response, UploadFile
from fastapi import Path as PathParam
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Image, StylePrediction
from db.writes import add_review
from images.fetch import FetchError
from images.storage import StorageError
from images.thumbnails import SIZES, ThumbnailError, placeholder, thumbnail, thumbnail_name
from producer.uploads import UploadRejected, accept_source, accept_upload
from stylecat.api.deps import ReviewKey, SessionDep, SettingsDep, UploadKey, commit_then_send
from stylecat.api.errors import ApiError
from stylecat.api.schemas import (
    Accepted,
    ErrorBody,
    ImageOut,
    PredictionOut,
    PredictionsOut,
    RegisterIn,
    ReviewIn,
    Text,
    errors,
)
from worker.dispatch import enqueue, request_indexing

log = logging.getLogger(__name__)
router = APIRouter(prefix="/images", tags=["images"])

ImageId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="images.id (a PostgreSQL bigint)")]


def _refused(exc: UploadRejected | FetchError) -> ApiError:
    return ApiError(exc.status if isinstance(exc, UploadRejected) else 422, exc.code, exc.message)


@router.post("", status_code=202, response_model=Accepted, responses=errors(401, 403, 413, 415, 422))
def upload(
    file: Annotated[UploadFile, File()],
    session: SessionDep,
    settings: SettingsDep,
    _: UploadKey,
    title: Annotated[Text | None, Form(max_length=500, description="Public, searchable.")] = None,
) -> Accepted:
    """Store an illustration and queue it for categorization (type checked by content, not name).
    The file's name is neither stored nor shown: search shows only a `title` the uploader sends."""
    data = file.file.read(settings.max_upload_bytes + 1)
    try:
        image_id = accept_upload(session=session, data=data, title=title, settings=settings)
    except UploadRejected as exc:
        raise _refused(exc) from None
    commit_then_send(session, lambda: enqueue(image_id, "live"), f"enqueue image {image_id}")
    return Accepted(id=image_id, url=f"/images/{image_id}")


@router.post("/register", status_code=202, response_model=Accepted, responses=errors(401, 403, 422))
def register(body: RegisterIn, session: SessionDep, settings: SettingsDep, _: UploadKey) -> Accepted:
    """Queue an image a host application already stored (s3:// or an allow-listed URL)."""
    try:
        image_id = accept_source(session=session, source=body.source, title=body.title, settings=settings)
    except (UploadRejected, FetchError) as exc:
        raise _refused(exc) from None
    commit_then_send(session, lambda: enqueue(image_id, "live"), f"enqueue image {image_id}")
    return Accepted(id=image_id, url=f"/images/{image_id}")


def image_view(image: Image) -> ImageOut:
    error = ErrorBody(code=image.error_code, message=image.error_message or "") if image.error_code else None
    return ImageOut(
        id=image.id,
        status=image.status,
        style=image.style,
        confidence=image.confidence,
        probs=image.style_probs,
        model_version=image.model_version,
        style_source=image.style_source,
        error=error,
    )


@router.get("/{image_id}", response_model=ImageOut, responses=errors(404))
def get_image(image_id: ImageId, session: SessionDep) -> ImageOut:
    image = session.scalar(select(Image).where(Image.id == image_id))
    if image is None:
        raise ApiError(404, "not_found", f"no image {image_id}")
    return image_view(image)


@router.get("/{image_id}/predictions", response_model=PredictionsOut, responses=errors(404))
def get_predictions(image_id: ImageId, session: SessionDep) -> PredictionsOut:
    """Every prediction made for the image, newest first: what each model version said, in which role."""
    if session.scalar(select(Image.id).where(Image.id == image_id)) is None:
        raise ApiError(404, "not_found", f"no image {image_id}")
    rows = prediction_history(session, image_id)
    return PredictionsOut(predictions=[PredictionOut.model_validate(row, from_attributes=True) for row in rows])


def prediction_history(session: Session, image_id: int) -> list[StylePrediction]:
    """Newest first (the web page shows the same)."""
    query = select(StylePrediction).where(StylePrediction.image_id == image_id).order_by(StylePrediction.id.desc())
    return list(session.scalars(query))


THUMBNAIL_CACHE = "public, max-age=86400"


@router.get(
    "/{image_id}/thumbnail",
    response_class=Response,
    responses={
        200: {
            "content": {"image/webp": {}},
            "description": "WebP, the long side `size` px; a placeholder tile "
            "when the image cannot be read (then `Cache-Control: no-cache`)",
        },
        304: {"description": "the thumbnail named by `If-None-Match` is still current"},
        404: {"content": {"image/webp": {}}, "description": "no such image: a placeholder tile"},
        **errors(422),
        503: {"content": {"image/webp": {}}, "description": "the store is unavailable: a placeholder tile"},
    },
)
def get_thumbnail(
    image_id: ImageId,
    session: SessionDep,
    settings: SettingsDep,
    size: Annotated[int, Query(description=f"long side in pixels, one of {SIZES}")] = 256,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A thumbnail, made on first use and kept in the store; an image that cannot be shown gets a
    placeholder tile, never an error page."""
    if size not in SIZES:
        raise ApiError(422, "bad_size", f"size must be one of {list(SIZES)}")
    ref = session.scalar(select(Image.storage_ref).where(Image.id == image_id))
    session.close()  # no connection held while the store answers
    if ref is None:
        return _placeholder(size, 404, "no-store")
    etag = f'"{thumbnail_name(ref, size)[:40]}"'
    if if_none_match == etag:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": THUMBNAIL_CACHE})
    try:
        data = thumbnail(ref, size, settings)
    except ThumbnailError:
        return _placeholder(size, 200, "no-cache")
    except (StorageError, BotoCoreError, ClientError, OSError) as exc:
        log.warning("thumbnail of image %d: the store failed: %s", image_id, exc)
        return _placeholder(size, 503, "no-store")
    return Response(data, media_type="image/webp", headers={"ETag": etag, "Cache-Control": THUMBNAIL_CACHE})


def _placeholder(size: int, status: int, cache: str) -> Response:
    return Response(placeholder(size), status_code=status, media_type="image/webp", headers={"Cache-Control": cache})


@router.post("/{image_id}/review", response_model=ImageOut, responses=errors(401, 403, 404))
def review(image_id: ImageId, body: ReviewIn, session: SessionDep, key: ReviewKey) -> ImageOut:
    """A human correction: from now on the image's style, whatever later model runs predict. The
    review records the key that made it."""
    image = add_review(session=session, image_id=image_id, style=body.style, reviewer=body.reviewer, api_key_id=key.id)
    if image is None:
        raise ApiError(404, "not_found", f"no image {image_id}")
    commit_then_send(session, request_indexing, f"index the review of image {image_id}")
    return image_view(image)
