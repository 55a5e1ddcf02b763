"""Limits before authentication and before the body (#12 item 1), against the API as a real
process: bodies sent chunked declare no length, so the answer must come while the client is still
sending, not after the server has read (and spooled, or held in memory) the whole body."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from tests.processes import api_answers, chunked_post, serving

MiB = 1024 * 1024
BOUNDARY = "stylecatboundary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
FILE_PART = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n'
    "Content-Type: image/jpeg\r\n\r\n"
).encode()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, test_environment: Settings) -> Iterator[str]:
    with serving(["api"], Path(tmp_path_factory.mktemp("api")) / "api.log", api_answers) as base:
        yield base


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("key", [None, "sc_not-a-key"])
def test_a_chunked_upload_without_a_live_key_is_refused_before_its_body(api: str, key: str | None) -> None:
    headers = MULTIPART | (_bearer(key) if key else {})
    status, body, sent = chunked_post(f"{api}/images", headers, total=30 * MiB, first=FILE_PART)
    assert status == 401, body
    assert sent < 4 * MiB, f"the server read {sent} bytes before refusing"


def test_a_key_without_the_scope_is_refused_before_the_body(api: str, settings: Settings) -> None:
    from db.models import Scope
    from producer.apikeys import issue_key

    reviewer = issue_key("reviewer only", [Scope.REVIEW])
    status, body, sent = chunked_post(f"{api}/images", MULTIPART | _bearer(reviewer), total=30 * MiB, first=FILE_PART)
    assert (status, sent < 4 * MiB) == (403, True), body


def test_a_chunked_upload_over_the_limit_stops_at_the_limit(api: str, api_key: str, settings: Settings) -> None:
    total = 3 * settings.max_upload_bytes
    status, body, sent = chunked_post(f"{api}/images", MULTIPART | _bearer(api_key), total=total, first=FILE_PART)
    assert status == 413 and b'"too_large"' in body, body
    assert sent < settings.max_upload_bytes + 8 * MiB, f"{sent} bytes read of a {total}-byte body"


@pytest.mark.parametrize("key", [None, "live"])
def test_a_chunked_json_body_stops_at_a_few_kib(api: str, api_key: str, key: str | None) -> None:
    headers = {"Content-Type": "application/json"} | (_bearer(api_key) if key else {})
    status, body, sent = chunked_post(f"{api}/images/register", headers, total=80 * MiB, first=b'{"source": "')
    assert status == (413 if key else 401), body
    assert sent < 8 * MiB, f"{sent} bytes of an 80 MiB JSON body read"


def test_a_declared_length_over_the_limit_is_refused_at_once(api: str) -> None:
    import httpx

    response = httpx.post(
        f"{api}/images/register", content=b"{}" * 10_000, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_a_small_chunked_upload_with_a_key_still_goes_through(api: str, api_key: str) -> None:
    from tests.factories import plain_png

    part = FILE_PART.replace(b"image/jpeg", b"image/png") + plain_png() + f"\r\n--{BOUNDARY}--\r\n".encode()
    status, body, _ = chunked_post(f"{api}/images", MULTIPART | _bearer(api_key), total=len(part), first=part)
    assert status == 202, body


@pytest.mark.unit
def test_the_guard_and_the_routes_agree_on_which_routes_need_which_key() -> None:
    """KEYED_ROUTES (checked before the body) and each route's KeyCheck (what it declares) must say
    the same, or a route would refuse every key, or read a body before authenticating."""
    from fastapi.routing import APIRoute

    from stylecat.api import health, images, reviews, search
    from stylecat.api.deps import KeyCheck
    from stylecat.api.limits import required_scope

    checked = 0
    for router in (images.router, reviews.router, search.router, health.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            declared = next((d.call.scope for d in route.dependant.dependencies if isinstance(d.call, KeyCheck)), None)
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            for method in route.methods:
                assert required_scope(method, path) == declared, f"{method} {route.path}"
                checked += declared is not None
    assert checked == 4
