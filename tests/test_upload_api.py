"""POST /images, /images/register, GET /images/{id}, POST /images/{id}/review: what bad input gets,
and that nothing is stored or queued for it."""

import json
from base64 import b64decode
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from sqlalchemy import func, select

from core.queues import Queue
from core.settings import Settings
from db.models import Image
from db.session import session_scope
from search.mapping import document
from stylecat.api import app
from tests.factories import encode, plain_png


@pytest.fixture
def api(clean_tables: None, settings: Settings, auth: dict[str, str]) -> TestClient:
    redis.Redis.from_url(settings.redis_url).delete(Queue.LIVE.value)
    return TestClient(app, headers=auth)


def _queued_ids(settings: Settings) -> list[int]:
    raw = redis.Redis.from_url(settings.redis_url).lrange(Queue.LIVE.value, 0, -1)
    return [i for m in raw for i in json.loads(b64decode(json.loads(m)["body"]))[0][0]]


def _stored_files(settings: Settings) -> set[Path]:
    assert settings.storage_dir is not None
    return set(settings.storage_dir.rglob("*")) if settings.storage_dir.exists() else set()


def _row_count() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Image)) or 0


def test_upload_stores_inserts_and_enqueues_after_commit(api: TestClient, settings: Settings) -> None:
    response = api.post("/images", files={"file": ("cat.png", plain_png(), "image/png")})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body == {"id": body["id"], "status": "queued", "url": f"/images/{body['id']}"}
    assert _queued_ids(settings) == [body["id"]]
    image = api.get(body["url"]).json()
    assert image == {
        "id": body["id"],
        "status": "queued",
        "style": None,
        "confidence": None,
        "probs": None,
        "model_version": None,
        "style_source": None,
        "error": None,
    }
    with session_scope() as session:
        row = session.get(Image, body["id"])
        assert row is not None and (row.width, row.height, row.content_type, row.title) == (64, 48, "image/png", None)


def test_search_shows_the_title_an_uploader_sends_and_never_the_file_name(api: TestClient) -> None:
    """Before: every uploader's file name (`IMG_0042 passport jane doe.png`) was the public title."""
    private = api.post("/images", files={"file": ("IMG_0042 passport jane doe.png", plain_png(), "image/png")})
    titled = api.post(
        "/images", files={"file": ("x.png", plain_png((30, 20)), "image/png")}, data={"title": "a red cat"}
    )
    assert private.status_code == titled.status_code == 202
    with session_scope() as session:
        rows = {row.id: row for row in session.scalars(select(Image))}
    docs = {image_id: json.dumps(document(row)) for image_id, row in rows.items()}
    assert "passport" not in docs[private.json()["id"]] and "IMG_0042" not in json.dumps(
        rows[private.json()["id"]].__dict__, default=str
    )
    assert json.loads(docs[titled.json()["id"]])["title"] == "a red cat"
    too_long = api.post("/images", files={"file": ("y.png", plain_png(), "image/png")}, data={"title": "x" * 501})
    assert too_long.status_code == 422


def _bomb() -> bytes:
    """A PNG that claims 20000 x 20000 pixels, a few hundred bytes on disk."""
    return encode(PILImage.new("1", (20000, 20000)), "PNG")


JPEG = encode(PILImage.new("RGB", (300, 200), (10, 120, 200)), "JPEG")
BAD_UPLOADS = {
    "zero bytes": (b"", 422, "empty"),
    "text file": (b"just some text, not an image", 415, "not_an_image"),
    "html renamed to jpg": (b"<!doctype html><html><body>hi</body></html>", 415, "not_an_image"),
    "eps": (b"%!PS-Adobe-3.0 EPSF-3.0\n", 415, "unsupported_format"),
    "svg": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 415, "unsupported_format"),
    "damaged header": (JPEG[:20], 422, "truncated"),
    "decompression bomb": (_bomb(), 422, "too_many_pixels"),
}


@pytest.mark.parametrize("name", sorted(BAD_UPLOADS))
def test_bad_uploads_get_a_clear_4xx_and_nothing_is_stored(api: TestClient, settings: Settings, name: str) -> None:
    data, status, code = BAD_UPLOADS[name]
    files_before, rows_before = _stored_files(settings), _row_count()
    response = api.post("/images", files={"file": ("upload.jpg", data, "image/jpeg")})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert _stored_files(settings) == files_before and _row_count() == rows_before
    assert _queued_ids(settings) == []


def test_an_oversize_file_is_refused_before_it_is_read(api: TestClient, settings: Settings) -> None:
    data = JPEG + b"\0" * (settings.max_upload_bytes + 100_000)
    response = api.post("/images", files={"file": ("big.jpg", data, "image/jpeg")})
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert _row_count() == 0 and _queued_ids(settings) == []


def test_missing_file_field_is_422(api: TestClient) -> None:
    assert api.post("/images", data={"other": "x"}).status_code == 422


@pytest.mark.parametrize(
    "source",
    [
        "http://127.0.0.1/x.png",
        "http://169.254.169.254/latest/meta-data",
        "file:///etc/passwd",
        "s3://",
        "not a url",
        "http://example.com:99999/x.png",  # a port out of range was a 500 (ValueError)
        "http://[::1/x.png",
    ],
)
def test_register_refuses_private_urls_and_malformed_sources(api: TestClient, source: str) -> None:
    response = api.post("/images/register", json={"source": source})
    assert response.status_code == 422
    assert _row_count() == 0


@pytest.mark.parametrize("source", ["s3://illustrations/dogs/1.png", "s3://payroll/2026.pdf", "s3://illustrations"])
def test_register_refuses_buckets_and_prefixes_off_the_allow_list(api: TestClient, source: str) -> None:
    """The workers' credentials may read more than uploaders should (allowed: illustrations/cats/)."""
    response = api.post("/images/register", json={"source": source})
    assert response.status_code == 422 and response.json()["error"]["code"] in ("forbidden_source", "bad_source")
    assert _row_count() == 0


def test_register_accepts_an_s3_uri(api: TestClient, settings: Settings) -> None:
    response = api.post("/images/register", json={"source": "s3://illustrations/cats/1.png", "title": "a cat"})
    assert response.status_code == 202
    assert _queued_ids(settings) == [response.json()["id"]]


def test_text_with_a_nul_character_gets_a_422_and_nothing_is_stored(api: TestClient, settings: Settings) -> None:
    """PostgreSQL's text cannot hold U+0000: the fuzzer's NUL reviewer was a 500 (DataError)."""
    image_id = api.post("/images", files={"file": ("a.png", plain_png(), "image/png")}).json()["id"]
    refused = [
        api.post(f"/images/{image_id}/review", json={"style": "flat", "reviewer": "a\x00"}),
        api.post("/images", files={"file": ("b.png", plain_png(), "image/png")}, data={"title": "cat\x00"}),
        api.post("/images/register", json={"source": "s3://illustrations/cats/1.png", "title": "\x00"}),
        api.post("/images/register", json={"source": "s3://illustrations/cats/1.png\x00"}),
    ]
    assert [r.status_code for r in refused] == [422] * 4, [r.text for r in refused]
    assert all("NUL" in r.text for r in refused)
    assert _row_count() == 1 and api.get(f"/images/{image_id}").json()["style_source"] is None


def test_review_validates_style_and_image(api: TestClient) -> None:
    image_id = api.post("/images", files={"file": ("a.png", plain_png(), "image/png")}).json()["id"]
    assert api.post(f"/images/{image_id}/review", json={"style": "watercolour", "reviewer": "ana"}).status_code == 422
    assert api.post(f"/images/{image_id}/review", json={"style": "flat", "reviewer": ""}).status_code == 422
    assert api.post("/images/999999/review", json={"style": "flat", "reviewer": "ana"}).status_code == 404
    reviewed = api.post(f"/images/{image_id}/review", json={"style": "flat", "reviewer": "ana"}).json()
    assert (reviewed["style"], reviewed["style_source"]) == ("flat", "review")
    assert api.get("/images/999999").status_code == 404
