"""Backfill selection and keyset pagination, against the real PostgreSQL and Redis."""

import json
from base64 import b64decode
from collections.abc import Sequence

import redis
from sqlalchemy import update

from core.queues import Queue
from core.settings import Settings
from db.models import Image
from db.session import session_scope
from db.writes import add_review, mark_failed
from producer.backfill import Criteria, Selection, backfill, count, status_counts
from tests.factories import image_row
from worker.dispatch import enqueue_batch


def _rows(n: int) -> list[int]:
    with session_scope() as session:
        return [image_row(session) for _ in range(n)]


def test_keyset_backfill_enqueues_each_id_exactly_once(clean_tables: None) -> None:
    ids = _rows(103)
    sent: list[list[int]] = []
    total = backfill(
        session_factory=session_scope,
        criteria=Criteria(Selection.ALL),
        batch_size=4,
        send=lambda batch: sent.append(list(batch)),
    )
    flat = [i for batch in sent for i in batch]
    assert total == 103 and sorted(flat) == ids and len(set(flat)) == len(flat)
    assert all(len(batch) <= 4 for batch in sent)


def test_backfill_messages_on_redis_carry_every_id_once(clean_tables: None, settings: Settings) -> None:
    ids = _rows(37)
    client = redis.Redis.from_url(settings.redis_url)
    client.delete(Queue.BACKFILL.value)

    def send(batch: Sequence[int]) -> None:
        enqueue_batch(batch, "backfill")

    backfill(session_factory=session_scope, criteria=Criteria(Selection.MISSING), batch_size=10, send=send)
    messages = [json.loads(raw) for raw in client.lrange(Queue.BACKFILL.value, 0, -1)]
    client.delete(Queue.BACKFILL.value)
    carried = [i for m in messages for i in json.loads(b64decode(m["body"]))[0][0]]
    assert sorted(carried) == ids and len(messages) == 4
    assert {m["headers"]["task"] for m in messages} == {"stylecat.categorize"}


def test_selections_and_limit(clean_tables: None) -> None:
    ids = _rows(10)
    with session_scope() as session:
        session.execute(
            update(Image)
            .where(Image.id.in_(ids[:4]))
            .values(status="categorized", model_version="1", predicted_at=Image.created_at)
        )
        session.execute(
            update(Image)
            .where(Image.id == ids[4])
            .values(status="categorized", model_version="2", predicted_at=Image.created_at)
        )
        mark_failed(session=session, image_id=ids[5], code="truncated", message="x")
    with session_scope() as session:
        assert count(session=session, criteria=Criteria(Selection.MISSING)) == 4
        assert count(session=session, criteria=Criteria(Selection.ALL)) == 10
        assert count(session=session, criteria=Criteria(Selection.ALL, limit=3)) == 3
        assert count(session=session, criteria=Criteria(Selection.FAILED)) == 1
        assert count(session=session, criteria=Criteria(Selection.OTHER_VERSION, model_version="2")) == 4
        add_review(session=session, image_id=ids[0], style="flat", reviewer="test")
    with session_scope() as session:  # after a promotion, what the old model predicted; never a reviewed image
        assert count(session=session, criteria=Criteria(Selection.OTHER_VERSION, model_version="2")) == 3
        assert status_counts(session=session) == {"queued": 4, "processing": 0, "categorized": 5, "failed": 1}


def test_failed_images_get_a_new_chance(clean_tables: None) -> None:
    [image_id] = _rows(1)
    with session_scope() as session:
        session.execute(update(Image).values(attempts=5))
        mark_failed(session=session, image_id=image_id, code="too_many_attempts", message="x")
    sent: list[int] = []
    backfill(session_factory=session_scope, criteria=Criteria(Selection.FAILED), batch_size=8, send=sent.extend)
    assert sent == [image_id]
    with session_scope() as session:
        image = session.get(Image, image_id)
        assert image is not None and (image.status, image.attempts) == ("queued", 0)


def test_limit_stops_the_keyset_walk(clean_tables: None) -> None:
    ids = _rows(25)
    sent: list[int] = []
    backfill(session_factory=session_scope, criteria=Criteria(Selection.ALL, limit=11), batch_size=3, send=sent.extend)
    assert sent == ids[:11]


def test_each_queue_receives_only_its_own_messages(settings: Settings) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    client.flushdb()
    enqueue_batch([1, 2], "backfill")
    assert [client.llen(q.value) for q in Queue] == [0, 1, 0]  # live, backfill, index
