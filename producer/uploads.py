"""Accept an image: check it (size, type by content, pixel count), store the bytes, insert the row.

The caller commits, then enqueues: a job never names a row that isn't visible yet.
"""

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.formats import BY_PILLOW
from core.settings import Settings
from db.writes import NewImage, create_image
from images.fetch import check_s3, check_url
from images.storage import store
from model.preprocess import ImageDecodeError, probe

_S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/\S{1,1024}$")


class UploadRejected(Exception):
    """`status` is the HTTP answer: 413 too large, 415 not an accepted image type, 422 unusable."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Checked:
    format: str
    width: int
    height: int


def check_image(data: bytes, settings: Settings) -> Checked:
    if len(data) > settings.max_upload_bytes:
        raise UploadRejected(413, "too_large", f"the file is over the {settings.max_upload_bytes} byte limit")
    try:
        image_format, width, height = probe(data, settings.max_image_pixels)
    except ImageDecodeError as exc:
        status = 415 if exc.code in ("not_an_image", "unsupported_format") else 422
        raise UploadRejected(status, exc.code, exc.message) from None
    return Checked(image_format, width, height)


def accept_upload(*, session: Session, data: bytes, title: str | None, settings: Settings) -> int:
    checked = check_image(data, settings)
    sha256 = hashlib.sha256(data).hexdigest()
    image_format = BY_PILLOW[checked.format]
    content_type = image_format.media_type
    ref = store(data, sha256=sha256, extension=image_format.extension, content_type=content_type, settings=settings)
    return create_image(
        session=session,
        image=NewImage(
            storage_ref=ref,
            title=title,
            content_type=content_type,
            size_bytes=len(data),
            width=checked.width,
            height=checked.height,
            sha256=sha256,
        ),
    )


def accept_source(*, session: Session, source: str, title: str | None, settings: Settings) -> int:
    """Register an image a host application already stored (s3:// or an allowed http(s) URL)."""
    if source.startswith(("http://", "https://")):
        check_url(source, settings)  # refuses loopback, private ranges and hosts off the allow-list
    elif not _S3_URI.fullmatch(source):
        raise UploadRejected(422, "bad_source", "source must be an s3://bucket/key URI or an http(s) URL")
    else:
        check_s3(source, settings)  # refuses buckets and prefixes off the allow-list
    return create_image(session=session, image=NewImage(storage_ref=source, title=title))
