"""The S3 store against the stack's real S3-compatible server (S3Proxy): an upload lands in the
bucket, a worker's fetch reads it back, and the categorize step writes its style."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings, get_settings
from db.models import Image
from db.session import session_scope
from images.fetch import fetch
from images.storage import s3_client
from stylecat.api import app
from tests.factories import illustration
from tests.test_categorize import StandIn
from worker.categorize import categorize

BUCKET = "stylecat-test-store"


@pytest.fixture
def s3_storage(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[Settings]:
    client = s3_client(settings.s3_endpoint_url, settings.aws_region)
    if BUCKET not in {bucket["Name"] for bucket in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("STYLECAT_STORAGE", "s3")
    monkeypatch.setenv("STYLECAT_S3_BUCKET", BUCKET)
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.undo()
    get_settings.cache_clear()


def test_an_upload_to_the_s3_store_is_categorized(
    s3_storage: Settings, clean_tables: None, auth: dict[str, str]
) -> None:
    data, _ = illustration(3, seed=31)
    response = TestClient(app, headers=auth).post("/images", files={"file": ("s3.img", data)})
    assert response.status_code == 202, response.text
    image_id = response.json()["id"]
    with session_scope() as session:
        row = session.get(Image, image_id)
        assert row is not None
        ref, content_type = row.storage_ref, row.content_type
    assert ref.startswith(f"s3://{BUCKET}/images/")
    head = s3_client(s3_storage.s3_endpoint_url, s3_storage.aws_region).head_object(
        Bucket=BUCKET, Key=ref.removeprefix(f"s3://{BUCKET}/")
    )
    assert head["ContentLength"] == len(data) and head["ContentType"] == content_type
    assert fetch(ref, s3_storage) == data

    summary = categorize(image_ids=[image_id], classifier=StandIn(), settings=s3_storage, session_factory=session_scope)
    assert summary.categorized == [image_id]
