"""The broker transport (`worker/broker.py`) against the real Redis: a channel reuses one Redis
client for its commands instead of making one for each (which cost about a quarter of a job's
enqueue), and follows its pool when Kombu replaces it."""

import pytest
import redis

from core.queues import CATEGORIZE_LIVE, Queue
from core.settings import Settings
from worker.app import app


def test_sending_jobs_makes_no_redis_client_per_job(
    clean_tables: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[redis.Redis] = []
    original = redis.Redis.__init__

    def counted(self: redis.Redis, *args: object, **kwargs: object) -> None:
        made.append(self)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    app.send_task(CATEGORIZE_LIVE, args=[[0]], queue=Queue.LIVE.value)  # the producer's channel exists
    monkeypatch.setattr(redis.Redis, "__init__", counted)
    for image_id in range(1, 51):
        app.send_task(CATEGORIZE_LIVE, args=[[image_id]], queue=Queue.LIVE.value)
    monkeypatch.undo()
    assert redis.Redis.from_url(settings.redis_url).llen(Queue.LIVE.value) == 51  # every job was sent
    assert len(made) <= 1, f"{len(made)} Redis clients made for 50 jobs"


def test_a_channel_reuses_its_client_and_follows_a_new_pool(settings: Settings) -> None:
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        first = channel._create_client()
        assert channel._create_client() is first and first.connection_pool is channel.pool
        assert first.ping()
        channel._pool = None  # what Kombu does when it drops a connection's pool
        second = channel._create_client()
        assert second is not first and second.connection_pool is channel.pool and second.ping()
