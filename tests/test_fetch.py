"""Image references: local keys cannot escape the store, URLs cannot reach private networks."""

import base64
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.settings import Settings
from images.fetch import FetchError, check_url, fetch
from images.storage import local_path, store
from tests.factories import plain_png


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/image.png":
            body = plain_png()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.path.split("to=", 1)[1])
            self.end_headers()
        elif self.path == "/drip":
            self.send_response(200)
            self.end_headers()
            for byte in plain_png()[:40]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
        elif self.path == "/drip-headers":  # one header byte at a time, each well inside the read timeout
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for byte in b"X-Slow: " + b"a" * 30:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        elif self.path == "/huge":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"\0" * 300_000)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


LOOPBACK_OK = {"allow_private_urls": True, "url_allowed_hosts": ["127.0.0.1"]}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.png",
        "http://localhost/x.png",
        "http://10.1.2.3/x.png",
        "http://192.168.0.1/x.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x.png",
        "http://0.0.0.0/x",
        "file:///etc/passwd",
        "ftp://example.com/x.png",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "http:///nohost",
        "http://[::ffff:127.0.0.1]/x.png",
        "http://2130706433/x.png",
        "http://0x7f.1/x.png",
        "http://172.16.0.1/x",
        "http://[fe80::1]/x.png",
        "http://100.64.0.1/x.png",
        "http://user@127.0.0.1:6379/",
        "https://127.1/x.png",
        # IPv6 forms that carry a private IPv4 address (NAT64, 6to4, IPv4-compatible, -translated)
        "http://[64:ff9b::a00:1]/x.png",
        "http://[64:ff9b:1::a00:1]/x.png",
        "http://[2002:a00:1::1]/x.png",
        "http://[::10.0.0.1]/x.png",
        "http://[::ffff:0:a00:1]/x.png",
    ],
)
@pytest.mark.unit
def test_urls_to_private_networks_and_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url, Settings())
    assert caught.value.code == "forbidden_url" and not caught.value.transient


@pytest.mark.unit
def test_allow_list_refuses_other_hosts(server: str) -> None:
    with pytest.raises(FetchError, match="not in STYLECAT_URL_ALLOWED_HOSTS"):
        check_url(server.replace("127.0.0.1", "localhost") + "/image.png", Settings(**LOOPBACK_OK))


@pytest.mark.unit
def test_an_allowed_url_is_fetched(server: str) -> None:
    assert fetch(f"{server}/image.png", Settings(**LOOPBACK_OK)) == plain_png()


@pytest.mark.unit
def test_redirects_are_checked_again(server: str) -> None:
    target = "http://169.254.169.254/latest/meta-data"
    with pytest.raises(FetchError) as caught:
        fetch(f"{server}/redirect?to={target}", Settings(**LOOPBACK_OK))
    assert caught.value.code == "forbidden_url"
    with pytest.raises(FetchError) as other_scheme:
        fetch(f"{server}/redirect?to=file:///etc/passwd", Settings(**LOOPBACK_OK))
    assert other_scheme.value.code == "forbidden_url"
    assert fetch(f"{server}/redirect?to=/image.png", Settings(**LOOPBACK_OK)) == plain_png()


@pytest.mark.unit
def test_a_server_dripping_bytes_cannot_hold_a_fetch_past_its_deadline(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="took too long"):
        fetch(f"{server}/drip", Settings(**LOOPBACK_OK, fetch_timeout=1))
    assert time.monotonic() - started < 2.5


@pytest.mark.unit
def test_a_server_dripping_its_headers_cannot_hold_a_fetch_past_its_deadline(server: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="took too long") as slow:
        fetch(f"{server}/drip-headers", Settings(**LOOPBACK_OK, fetch_timeout=1))
    assert slow.value.code == "fetch_failed" and slow.value.transient
    assert time.monotonic() - started < 2.5


@pytest.mark.unit
@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/x.png", "http://[::1/x.png", "https://example.com:-1/"])
def test_urls_python_cannot_parse_are_refused_not_raised(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url, Settings(**LOOPBACK_OK))
    assert caught.value.code == "forbidden_url" and "not a valid URL" in caught.value.message


@pytest.mark.unit
def test_errors_never_carry_credentials_or_signatures(server: str) -> None:
    host = server.removeprefix("http://")
    url = f"http://ana:hunter2@{host}/missing.png?X-Amz-Signature=deadbeef&token=s3cr3t"
    with pytest.raises(FetchError) as caught:
        fetch(url, Settings(**LOOPBACK_OK))
    assert caught.value.code == "not_found"
    assert caught.value.message == f"http://{host}/missing.png?… answered 404"


@pytest.mark.unit
def test_size_cap_and_not_found(server: str) -> None:
    with pytest.raises(FetchError) as too_large:
        fetch(f"{server}/huge", Settings(**LOOPBACK_OK, max_upload_bytes=100_000))
    assert too_large.value.code == "too_large"
    with pytest.raises(FetchError) as missing:
        fetch(f"{server}/nothing", Settings(**LOOPBACK_OK))
    assert missing.value.code == "not_found" and not missing.value.transient


@pytest.mark.parametrize(
    "ref",
    [
        "local:../../etc/passwd",
        "local:/etc/passwd",
        "local:00/../../secret.png",
        "local:aa/" + "a" * 64 + ".png/../../x",
        "local:aa/" + "A" * 64 + ".png",
    ],
)
def test_local_references_cannot_escape_the_store(ref: str, settings: Settings) -> None:
    with pytest.raises(FetchError) as caught:
        fetch(ref, settings)
    assert caught.value.code == "bad_reference"


def test_local_store_round_trip_and_base64(settings: Settings) -> None:
    data = plain_png()
    ref = store(data, sha256="ab" + "c" * 62, extension="png", content_type="image/png", settings=settings)
    assert local_path(ref, settings).is_relative_to(settings.storage_dir)  # type: ignore[arg-type]
    assert fetch(ref, settings) == data
    assert fetch(base64.b64encode(data).decode(), settings) == data
    with pytest.raises(FetchError, match="not a URL"):
        fetch("!!not base64!!", settings)


@pytest.mark.unit
def test_identical_uploads_racing_in_the_local_store_all_land_whole(tmp_path: Path) -> None:
    """Writers of the same content each use their own temporary file (they once shared one)."""
    settings = Settings(storage_dir=tmp_path)
    data = plain_png((300, 200)) + bytes(8_000_000)  # big enough that the writes overlap
    for round_ in range(20):
        sha = f"{round_:02x}" + "e" * 62

        def write(_: int, sha: str = sha) -> str:
            return store(data, sha256=sha, extension="png", content_type="image/png", settings=settings)

        with ThreadPoolExecutor(5) as pool:
            refs = list(pool.map(write, range(5)))
        assert len(set(refs)) == 1 and fetch(refs[0], settings) == data
    assert not list(tmp_path.rglob("*.partial"))
