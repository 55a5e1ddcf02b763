"""Backpressure (#12 item 12): a rate per API key, a limit on the live queue, 503 when every
database connection is busy, and no transaction open while an upload's bytes are stored."""

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from sqlalchemy import event

from core.queues import Queue
from core.settings import Settings, get_settings
from db.models import Scope
from db.session import get_engine
from images.storage import content_key
from producer.apikeys import issue_key
from stylecat.api import app
from tests.factories import encode, plain_png
from tests.processes import api_answers, serving

LIMITS = {"STYLECAT_RATE_LIMIT_PER_MINUTE": "5", "STYLECAT_MAX_LIVE_QUEUE": "3"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, test_environment: Settings) -> Iterator[str]:
    with serving(["api"], Path(tmp_path_factory.mktemp("api")) / "api.log", api_answers, LIMITS) as base:
        yield base


def _same_minute(seconds_needed: float = 8) -> None:
    """The rate is counted per minute: start far enough from the turn of one."""
    while time.time() % 60 > 60 - seconds_needed:
        time.sleep(0.5)


def test_a_key_over_its_rate_gets_429_with_retry_after(api: str, clean_tables: None) -> None:
    key = issue_key("busy reviewer", [Scope.REVIEW])
    _same_minute()
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        answers = [client.post("/images/999999/review", json={"style": "flat", "reviewer": "ana"}) for _ in range(7)]
    assert [a.status_code for a in answers] == [404] * 5 + [429] * 2
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    assert 0 < int(answers[-1].headers["retry-after"]) <= 60
    other = issue_key("another reviewer", [Scope.REVIEW])  # the rate is per key
    review = {"style": "flat", "reviewer": "bo"}
    response = httpx.post(f"{api}/images/999999/review", json=review, headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 404


def test_uploads_get_503_while_the_live_queue_is_too_deep(api: str, clean_tables: None, settings: Settings) -> None:
    redis.Redis.from_url(settings.redis_url).delete(Queue.LIVE.value)  # no worker runs: the queue only grows
    key = issue_key("bulk uploader", [Scope.UPLOAD])
    _same_minute()
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        answers = [client.post("/images", files={"file": (f"{i}.png", plain_png(), "image/png")}) for i in range(5)]
    assert [a.status_code for a in answers] == [202] * 4 + [503]  # accepted while the depth was 0..3
    assert answers[-1].json()["error"]["code"] == "queue_full" and answers[-1].headers["retry-after"] == "30"
    redis.Redis.from_url(settings.redis_url).delete(Queue.LIVE.value)


@pytest.fixture
def one_connection(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[None]:
    """The API's settings with a pool of one connection and a short wait (an engine of its own)."""
    monkeypatch.setenv("STYLECAT_DATABASE_URL", settings.database_url + "?application_name=pool-of-one")
    pool = {"STYLECAT_DB_POOL_SIZE": "1", "STYLECAT_DB_MAX_OVERFLOW": "0", "STYLECAT_DB_POOL_TIMEOUT": "0.5"}
    for name, value in pool.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_an_exhausted_pool_answers_503_not_500(one_connection: None, clean_tables: None) -> None:
    with get_engine().connect():  # the only connection, held
        response = TestClient(app).get("/images/1")
    assert response.status_code == 503 and response.json()["error"]["code"] == "database_busy"
    assert response.headers["retry-after"] == "5"


def test_an_upload_holds_no_transaction_while_its_bytes_are_stored(
    clean_tables: None, auth: dict[str, str], settings: Settings
) -> None:
    """Before: the key was checked in the route's session, whose transaction stayed open (holding a
    pooled connection) while the bytes went to the store, an S3 round trip in production."""
    data = encode(PILImage.new("RGB", (50, 40), tuple(os.urandom(3))), "PNG")  # new content: a new file
    assert settings.storage_dir is not None
    target = settings.storage_dir / content_key(hashlib.sha256(data).hexdigest(), "png")
    events: list[tuple[int, bool]] = []  # (connections out, whether the file exists) at each checkout/checkin
    out = 0

    def checkout(*_: object) -> None:
        nonlocal out
        events.append((out, target.exists()))
        out += 1

    def checkin(*_: object) -> None:
        nonlocal out
        events.append((out, target.exists()))
        out -= 1

    engine = get_engine()
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        response = TestClient(app, headers=auth).post("/images", files={"file": ("new.png", data, "image/png")})
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
    assert response.status_code == 202 and target.exists()
    appeared = next(i for i, (_, exists) in enumerate(events) if exists)
    assert events[appeared][0] == 0, f"a connection was checked out while the bytes were stored: {events}"
