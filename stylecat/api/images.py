"""Routes of the producer: upload, register, read an image's state, review it."""

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi import Path as PathParam
from sqlalchemy import select

from db.models import Image
from db.writes import add_review
from images.fetch import FetchError
from producer.uploads import UploadRejected, accept_source, accept_upload
from stylecat.api.deps import ReviewKey, SessionDep, SettingsDep, UploadKey, commit_then_send
from stylecat.api.errors import ApiError
from stylecat.api.schemas import Accepted, ErrorBody, ImageOut, RegisterIn, ReviewIn, errors
from worker.dispatch import enqueue, request_indexing

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
    title: Annotated[str | None, Form(max_length=500, description="Public, searchable.")] = None,
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


@router.post("/{image_id}/review", response_model=ImageOut, responses=errors(401, 403, 404))
def review(image_id: ImageId, body: ReviewIn, session: SessionDep, _: ReviewKey) -> ImageOut:
    """A human correction: from now on the image's style, whatever later model runs predict."""
    image = add_review(session=session, image_id=image_id, style=body.style, reviewer=body.reviewer)
    if image is None:
        raise ApiError(404, "not_found", f"no image {image_id}")
    commit_then_send(session, request_indexing, f"index the review of image {image_id}")
    return image_view(image)
