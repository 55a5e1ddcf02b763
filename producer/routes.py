"""HTTP routes of the producer: upload, register, read an image's state, review it."""

import logging
from collections.abc import Callable
from typing import Annotated, Any

import redis

from fastapi import APIRouter, File, HTTPException, UploadFile
from fastapi import Path as PathParam
from kombu.exceptions import OperationalError as KombuOperationalError
from pydantic import BaseModel, Field
from sqlalchemy import select

from db.models import Image
from db.writes import add_review
from producer.enqueue import enqueue, request_indexing
from producer.uploads import UploadRejected, accept_source, accept_upload
from stylecat.deps import ReviewKey, SessionDep, SettingsDep, UploadKey
from stylecat.styles import STYLES
from worker.fetch import FetchError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/images", tags=["images"])

Style = Annotated[str, Field(pattern=f"^({'|'.join(STYLES)})$")]
ImageId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="images.id (a PostgreSQL bigint)")]


class Accepted(BaseModel):
    id: int
    status: str = "queued"
    url: str


class RegisterIn(BaseModel):
    source: str = Field(max_length=2048, description="s3://bucket/key or an http(s) URL")
    title: str | None = Field(default=None, max_length=500)


class ReviewIn(BaseModel):
    style: Style
    reviewer: str = Field(min_length=1, max_length=200)


def _after_commit(send: Callable[[], None], what: str) -> None:
    """The row is committed, so if Redis is down now the periodic sweeper (or indexer sweep) does
    this later: the request still succeeds."""
    try:
        send()
    except (KombuOperationalError, redis.RedisError, OSError):
        log.warning("could not %s now; the periodic sweep will", what, exc_info=True)


def _rejected(exc: UploadRejected) -> HTTPException:
    return HTTPException(exc.status, {"code": exc.code, "message": exc.message})


AUTH = {401: {}, 403: {}}


@router.post("", status_code=202, response_model=Accepted, responses={**AUTH, 413: {}, 415: {}, 422: {}})
def upload(file: Annotated[UploadFile, File()], session: SessionDep, settings: SettingsDep, _: UploadKey) -> Accepted:
    """Store an illustration and queue it for categorization (type checked by content, not name)."""
    data = file.file.read(settings.max_upload_bytes + 1)
    try:
        image_id = accept_upload(session=session, data=data, filename=file.filename, settings=settings)
    except UploadRejected as exc:
        raise _rejected(exc) from None
    session.commit()
    _after_commit(lambda: enqueue(image_id, "live"), f"enqueue image {image_id}")  # the worker must see the row
    return Accepted(id=image_id, url=f"/images/{image_id}")


@router.post("/register", status_code=202, response_model=Accepted, responses={**AUTH, 422: {}})
def register(body: RegisterIn, session: SessionDep, settings: SettingsDep, _: UploadKey) -> Accepted:
    """Queue an image a host application already stored (s3:// or an allow-listed URL)."""
    try:
        image_id = accept_source(session=session, source=body.source, title=body.title, settings=settings)
    except UploadRejected as exc:
        raise _rejected(exc) from None
    except FetchError as exc:
        raise HTTPException(422, {"code": exc.code, "message": exc.message}) from None
    session.commit()
    _after_commit(lambda: enqueue(image_id, "live"), f"enqueue image {image_id}")
    return Accepted(id=image_id, url=f"/images/{image_id}")


def image_view(image: Image) -> dict[str, Any]:
    error = {"code": image.error_code, "message": image.error_message} if image.error_code else None
    return {"id": image.id, "status": image.status, "style": image.style, "confidence": image.confidence,
            "probs": image.style_probs, "model_version": image.model_version, "style_source": image.style_source,
            "error": error}


@router.get("/{image_id}", responses={404: {}})
def get_image(image_id: ImageId, session: SessionDep) -> dict[str, Any]:
    image = session.scalar(select(Image).where(Image.id == image_id))
    if image is None:
        raise HTTPException(404, {"code": "not_found", "message": f"no image {image_id}"})
    return image_view(image)


@router.post("/{image_id}/review", responses={**AUTH, 404: {}})
def review(image_id: ImageId, body: ReviewIn, session: SessionDep, _: ReviewKey) -> dict[str, Any]:
    """A human correction: from now on the image's style, whatever later model runs predict."""
    image = add_review(session=session, image_id=image_id, style=body.style, reviewer=body.reviewer)
    if image is None:
        raise HTTPException(404, {"code": "not_found", "message": f"no image {image_id}"})
    session.commit()
    _after_commit(request_indexing, f"index the review of image {image_id}")
    return image_view(image)
