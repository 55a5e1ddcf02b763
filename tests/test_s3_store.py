"""The S3 store against the stack's real S3-compatible server (S3Proxy): an upload lands in the
bucket, a worker's fetch reads it back, and the categorize step writes its style."""

import gzip
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings, get_settings
from db.models import Image
from db.session import session_scope
from images.fetch import FetchError, fetch
from images.storage import s3_client, s3_reads
from stylecat.api import app
from tests.factories import illustration
from tests.test_categorize import StandIn
from worker.categorize import _fetch_all, categorize

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


def _put(settings: Settings, key: str, body: bytes) -> str:
    s3_client(settings.s3_endpoint_url, settings.aws_region).put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def _fetch_error(ref: str, settings: Settings) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(ref, settings)
    return caught.value


def test_a_fetch_from_the_s3_store_tells_what_is_missing_from_what_may_come_back(
    s3_storage: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Missing and unreadable objects fail for good, with the same words; a refused signature or a
    store that does not answer is worth a retry, and no message carries the presigned URL."""
    data, _ = illustration(5, seed=77)
    ref = _put(s3_storage, "images/fetch/ok.img", data)
    assert fetch(ref, s3_storage) == data
    assert fetch(_put(s3_storage, "images/fetch/empty.img", b""), s3_storage) == b""

    elsewhere = s3_storage.model_copy(update={"s3_allowed_sources": ["stylecat-no-such-bucket"]})
    missing = _fetch_error(f"s3://{BUCKET}/images/fetch/none.img", elsewhere)
    no_bucket = _fetch_error("s3://stylecat-no-such-bucket/images/fetch/none.img", elsewhere)
    assert (missing.code, missing.transient) == (no_bucket.code, no_bucket.transient) == ("not_found", False)
    assert missing.message.removeprefix(f"s3://{BUCKET}/") == no_bucket.message.removeprefix(
        "s3://stylecat-no-such-bucket/"
    )

    big = _fetch_error(ref, s3_storage.model_copy(update={"max_upload_bytes": len(data) - 1}))
    assert big.code == "too_large" and str(len(data)) not in big.message

    with pytest.MonkeyPatch.context() as wrong_secret:
        wrong_secret.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        wrong_secret.setattr(boto3, "DEFAULT_SESSION", None)  # it keeps the credentials it found first
        s3_client.cache_clear()
        try:
            refused = _fetch_error(ref, s3_storage)
        finally:
            s3_client.cache_clear()
    assert (refused.code, refused.transient) == ("fetch_failed", True)
    assert "SignatureDoesNotMatch" in refused.message

    with socket.socket() as closed, caplog.at_level(logging.INFO):  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        away = s3_storage.model_copy(update={"s3_endpoint_url": f"http://127.0.0.1:{closed.getsockname()[1]}"})
        down = _fetch_error(ref, away)
    assert (down.code, down.transient) == ("fetch_failed", True)
    assert "Signature" not in down.message and "?" not in down.message
    assert "Signature" not in caplog.text, "a signed URL reached the logs"  # (urllib3 logs it at DEBUG)


class _Scripted(BaseHTTPRequestHandler):
    """A store that gives the answers in `script` in turn, then the object."""

    script: list[tuple[int, bytes]] = []
    seen = 0

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen += 1
        status, body = type(self).script.pop(0) if type(self).script else (206, b"stored bytes")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _error(code: str, message: str = "") -> bytes:
    return f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()


SLOW_DOWN = (503, _error("SlowDown", "Please reduce your request rate."))
EXPIRED = (403, _error("AccessDenied", "Request has expired"))


@pytest.mark.parametrize(
    ("script", "outcome", "asked"),
    [
        ([SLOW_DOWN, SLOW_DOWN], b"stored bytes", 3),
        ([SLOW_DOWN] * 3, ("fetch_failed", True), 3),
        ([EXPIRED] * 3, ("fetch_failed", True), 3),  # a clock behind the store's: worth a retry
        ([(403, _error("AccessDenied", "Access Denied"))], ("not_found", False), 1),
        ([(301, _error("PermanentRedirect", "Use the right endpoint"))], ("fetch_failed", False), 1),
    ],
)
def test_a_store_is_asked_again_only_when_that_may_help(
    s3_storage: Settings, script: list[tuple[int, bytes]], outcome: bytes | tuple[str, bool], asked: int
) -> None:
    _Scripted.script, _Scripted.seen = list(script), 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        scripted = s3_storage.model_copy(update={"s3_endpoint_url": f"http://127.0.0.1:{httpd.server_port}"})
        ref = f"s3://{BUCKET}/images/scripted.img"
        if isinstance(outcome, bytes):
            assert fetch(ref, scripted) == outcome
        else:
            error = _fetch_error(ref, scripted)
            assert (error.code, error.transient) == outcome
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert _Scripted.seen == asked


def test_a_long_error_answer_does_not_spoil_the_next_fetch(s3_storage: Settings) -> None:
    """Only the first 4 KiB of an error are read: its connection is closed, not pooled half-read."""
    _Scripted.script, _Scripted.seen = [(404, _error("NoSuchKey", "x" * 20_000))], 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        scripted = s3_storage.model_copy(update={"s3_endpoint_url": f"http://127.0.0.1:{httpd.server_port}"})
        assert _fetch_error(f"s3://{BUCKET}/images/missing.img", scripted).code == "not_found"
        assert fetch(f"s3://{BUCKET}/images/there.img", scripted) == b"stored bytes"
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert _Scripted.seen == 2  # no attempt lost on a spoiled connection


def test_what_an_object_was_stored_as_is_what_a_fetch_returns(s3_storage: Settings) -> None:
    """A stored Content-Encoding is not decoded on the way (the size limit counts stored bytes)."""
    packed = gzip.compress(illustration(6, seed=79)[0])
    s3_client(s3_storage.s3_endpoint_url, s3_storage.aws_region).put_object(
        Bucket=BUCKET, Key="images/fetch/packed.img", Body=packed, ContentEncoding="gzip"
    )
    assert fetch(f"s3://{BUCKET}/images/fetch/packed.img", s3_storage) == packed


@pytest.mark.parametrize("key", ["images/../secret.png", "images/./a.png", "images/a/.."])
def test_a_key_with_dot_segments_is_refused(s3_storage: Settings, key: str) -> None:
    """An HTTP client resolves them after the URL is signed: the store would see another key."""
    assert _fetch_error(f"s3://{BUCKET}/{key}", s3_storage).code == "bad_reference"


def test_a_batch_from_the_s3_store_keeps_its_connections(s3_storage: Settings) -> None:
    """The next batch reuses the connections the first one opened: no new connection per image."""
    refs = [(n, _put(s3_storage, f"images/batch/{n}.img", illustration(n, seed=78)[0])) for n in range(24)]
    pool = s3_reads().connection_from_url(s3_storage.s3_endpoint_url or "")
    opened, asked = pool.num_connections, pool.num_requests
    for _ in range(2):
        fetched, errors, unavailable = _fetch_all(refs, s3_storage.model_copy(update={"fetch_concurrency": 6}))
        assert len(fetched) == len(refs) and not errors and not unavailable
    assert pool.num_requests - asked == 2 * len(refs) and pool.num_connections - opened <= 6
