"""GET /images/{id}/thumbnail: WebP made once and kept in the store (local and the stack's S3),
cache headers, and a placeholder tile, never an error page, for what cannot be shown."""

import hashlib
import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage

from core.settings import Settings
from db.session import session_scope
from images.storage import load_derived, local_path, store
from images.thumbnails import placeholder, thumbnail_name
from stylecat.api import app
from tests.factories import illustration, image_row
from tests.test_s3_store import s3_storage  # noqa: F401  (fixture)


@pytest.fixture
def api() -> TestClient:
    return TestClient(app)


def _stored(data: bytes, settings: Settings, extension: str = "png") -> tuple[int, str]:
    ref = store(data, sha256=hashlib.sha256(data).hexdigest(), extension=extension, content_type="image/png")
    with session_scope() as session:
        return image_row(session, ref), ref


def _webp(body: bytes) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(body))
    assert image.format == "WEBP"
    return image


def test_a_thumbnail_is_made_once_kept_in_the_store_and_cached_by_clients(
    api: TestClient, settings: Settings, clean_tables: None
) -> None:
    image_id, ref = _stored(illustration(1, seed=9)[0], settings)
    first = api.get(f"/images/{image_id}/thumbnail", params={"size": 128})
    assert first.status_code == 200 and first.headers["content-type"] == "image/webp"
    assert max(_webp(first.content).size) == 128
    assert first.headers["cache-control"] == "public, max-age=86400" and first.headers["etag"]
    assert load_derived(thumbnail_name(ref, 128), settings) == first.content

    local_path(ref, settings).unlink()  # the original is not read again
    again = api.get(f"/images/{image_id}/thumbnail", params={"size": 128})
    assert again.status_code == 200 and again.content == first.content
    unchanged = api.get(f"/images/{image_id}/thumbnail?size=128", headers={"If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""


def test_what_cannot_be_shown_gets_a_placeholder_tile(api: TestClient, settings: Settings, clean_tables: None) -> None:
    broken, _ = _stored(b"\x89PNG\r\n\x1a\n" + b"\0" * 200, settings)
    gone, ref = _stored(illustration(2, seed=9)[0], settings)
    local_path(ref, settings).unlink()
    for image_id in (broken, gone):
        answer = api.get(f"/images/{image_id}/thumbnail")
        assert answer.status_code == 200 and answer.content == placeholder(256), image_id
        assert answer.headers["cache-control"] == "no-cache"
    unknown = api.get("/images/987654321/thumbnail")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "image/webp"
    assert unknown.content == placeholder(256)


@pytest.mark.parametrize("size", ["77", "0", "abc", "100000"])
def test_only_the_offered_sizes_are_made(api: TestClient, clean_tables: None, settings: Settings, size: str) -> None:
    image_id, _ = _stored(illustration(3, seed=9)[0], settings)
    answer = api.get(f"/images/{image_id}/thumbnail", params={"size": size})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/json"


def test_thumbnails_of_images_in_the_s3_store_are_kept_there(
    api: TestClient,
    s3_storage: Settings,  # noqa: F811
    clean_tables: None,
) -> None:
    image_id, ref = _stored(illustration(4, seed=9)[0], s3_storage)
    assert ref.startswith("s3://")
    answer = api.get(f"/images/{image_id}/thumbnail", params={"size": 256})
    assert answer.status_code == 200 and max(_webp(answer.content).size) == 256
    assert load_derived(thumbnail_name(ref, 256), s3_storage) == answer.content
