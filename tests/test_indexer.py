"""The indexer against the real OpenSearch: outbox versions, external versioning, the alias, rebuild."""

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
import redis
from opensearchpy import OpenSearch
from sqlalchemy import text

from core.queues import Queue
from core.settings import Settings, get_settings
from db.models import Image
from db.session import session_scope
from db.writes import ModelRef, Prediction, add_review, claim, record_predictions
from search.client import get_client
from search.indexer import bulk_body, index_pending
from search.rebuild import rebuild
from tests.factories import PROBS, image_row
from tests.faults import EndpointProxy
from tests.processes import wait_for
from worker.dispatch import Priority, request_indexing

MODEL = ModelRef(name="style-cnn", version="1", backend="local")


@pytest.fixture
def client(settings: Settings, clean_tables: None) -> OpenSearch:
    client = get_client()
    for name in client.indices.get(index=f"{settings.opensearch_index}*"):
        client.indices.delete(index=name)
    return client


def categorized(styles: list[str]) -> list[int]:
    with session_scope() as session:
        ids = [image_row(session, title=f"a {style} picture") for style in styles]
    with session_scope() as session:
        claim(session=session, image_ids=ids, model=MODEL, max_attempts=5)
        record_predictions(
            session=session,
            model=MODEL,
            predictions=[Prediction(i, s, PROBS[s]) for i, s in zip(ids, styles, strict=True)],
        )
    return ids


def test_pending_rows_are_indexed_once_and_marked(client: OpenSearch, settings: Settings) -> None:
    ids = categorized(["flat", "3d", "flat"])
    report = index_pending(session_factory=session_scope, client=client, alias=settings.opensearch_index)
    assert (report.indexed, report.errors) == (3, 0)
    client.indices.refresh(index=settings.opensearch_index)
    doc = client.get(index=settings.opensearch_index, id=str(ids[1]))
    assert doc["_version"] == 2 and doc["_source"]["style"] == "3d" and doc["_source"]["probs"] == PROBS["3d"]
    with session_scope() as session:
        assert all(session.get(Image, i).indexed_version == 2 for i in ids)  # type: ignore[union-attr]
    again = index_pending(session_factory=session_scope, client=client, alias=settings.opensearch_index)
    assert (again.indexed, again.stale) == (0, 0)


def test_a_stale_write_is_rejected_by_external_versioning(client: OpenSearch, settings: Settings) -> None:
    [image_id] = categorized(["flat"])
    with session_scope() as session:
        stale = session.get(Image, image_id)
        assert stale is not None
        session.expunge(stale)  # a snapshot at index_version 2, as a slow indexer would hold it
        add_review(session=session, image_id=image_id, style="line_art", reviewer="ana")  # version 3
    index_pending(session_factory=session_scope, client=client, alias=settings.opensearch_index)

    response = client.bulk(body=bulk_body([stale], settings.opensearch_index), refresh=True)
    assert response["items"][0]["index"]["status"] == 409
    doc = client.get(index=settings.opensearch_index, id=str(image_id))
    assert doc["_version"] == 3 and doc["_source"]["style"] == "line_art" and doc["_source"]["reviewed"] is True


def test_rebuild_swaps_the_alias_without_losing_documents(client: OpenSearch, settings: Settings) -> None:
    alias = settings.opensearch_index
    categorized(["flat", "3d", "hand_drawn", "line_art"])
    index_pending(session_factory=session_scope, client=client, alias=alias)
    [before] = client.indices.get_alias(name=alias)

    after = rebuild(session_factory=session_scope, client=client, alias=alias, batch_size=3)

    assert list(client.indices.get_alias(name=alias)) == [after] and after != before
    assert not client.indices.exists(index=before)
    client.indices.refresh(index=alias)
    assert client.count(index=alias)["count"] == 4
    settings_now = client.indices.get_settings(index=after)[after]["settings"]["index"]
    assert settings_now["refresh_interval"] == "1s"


def test_no_row_is_locked_while_opensearch_answers(client: OpenSearch, settings: Settings) -> None:
    """Before: the indexer held the rows' locks through the bulk request (30 s x 4 tries when
    OpenSearch was slow), and worker claims and reviews waited on them."""
    ids = categorized(["flat", "3d"])
    with EndpointProxy(settings.opensearch_url) as proxy:
        proxy.delay = 3  # every bulk request answers 3 s late
        slow = OpenSearch(proxy.url, timeout=30)
        indexer = threading.Thread(
            target=index_pending,
            kwargs={"session_factory": session_scope, "client": slow, "alias": settings.opensearch_index},
        )
        indexer.start()
        wait_for(lambda: proxy.requests >= 1, 30, "the bulk request to be on its way", interval=0.05)
        started = time.monotonic()
        with session_scope() as session:
            session.execute(text("SET LOCAL lock_timeout = '1s'"))
            add_review(session=session, image_id=ids[0], style="line_art", reviewer="ana")  # version 3
        waited = time.monotonic() - started
        indexer.join(30)
    assert waited < 1, f"the review waited {waited:.1f} s for the indexer"
    # the batch in flight marked version 2; the indexer's next batch took the review's version 3
    with session_scope() as session:
        reviewed = session.get(Image, ids[0])
        assert reviewed is not None and (reviewed.indexed_version, reviewed.index_version) == (3, 3)
    assert client.get(index=settings.opensearch_index, id=str(ids[0]))["_source"]["style"] == "line_art"


def test_a_document_opensearch_rejects_is_parked_with_its_error(client: OpenSearch, settings: Settings) -> None:
    """Before: a rejected document stayed pending, at the front of every batch, sent again each run."""
    bad, good = categorized(["flat", "3d"])
    with session_scope() as session:  # a value the mapping cannot take (probabilities are floats)
        session.execute(text('UPDATE images SET style_probs = \'{"flat": "lots"}\' WHERE id = :id'), {"id": bad})
    alias = settings.opensearch_index

    first = index_pending(session_factory=session_scope, client=client, alias=alias)
    assert (first.indexed, first.errors, first.parked) == (1, 1, 1)
    with session_scope() as session:
        row = session.get(Image, bad)
        assert row is not None and row.index_error is not None and "parsing" in row.index_error
        assert row.index_parked_version == row.index_version and row.indexed_version < row.index_version
    again = index_pending(session_factory=session_scope, client=client, alias=alias)
    assert (again.indexed, again.errors) == (0, 0)  # not sent again

    with session_scope() as session:  # a later write, a new version: it is tried again
        add_review(session=session, image_id=bad, style="flat", reviewer="ana")
        session.execute(text("UPDATE images SET style_probs = NULL WHERE id = :id"), {"id": bad})
    fixed = index_pending(session_factory=session_scope, client=client, alias=alias)
    assert (fixed.indexed, fixed.errors) == (1, 0)
    with session_scope() as session:
        assert session.get(Image, bad).index_error is None  # type: ignore[union-attr]
    assert good


def test_a_live_write_during_a_burst_waits_as_a_backfills_does(
    clean_tables: None, backfill_waits_longer: Settings
) -> None:
    """While more live jobs wait in the queue, the uploads behind a live write wait longer than a
    backfill's debounce anyway: its indexing run waits that long too, so a burst sends few bulk
    requests. A lone live write still gets its run after `index_debounce`."""
    from worker.tasks import index_task

    settings = backfill_waits_longer
    queue = redis.Redis.from_url(settings.redis_url)
    queue.lpush(Queue.LIVE.value, b"a live job waiting")
    sent = time.time()
    request_indexing("live")
    [burst] = [moment.timestamp() - sent for moment in _index_jobs(settings)]
    assert abs(burst - settings.backfill_index_debounce) < 0.3, burst

    queue.delete(Queue.LIVE.value)
    index_task.run()  # the burst's run; the queue is empty now
    sent = time.time()
    request_indexing("live")
    lone = _index_jobs(settings)[-1].timestamp() - sent
    assert abs(lone - settings.index_debounce) < 0.3, lone


def _index_jobs(settings: Settings) -> list[datetime]:
    """When each index job waiting in Redis is due, oldest job first (Kombu pushes on the left)."""
    raw = redis.Redis.from_url(settings.redis_url).lrange(Queue.INDEX.value, 0, -1)
    return [datetime.fromisoformat(json.loads(message)["headers"]["eta"]) for message in reversed(raw)]


@pytest.fixture
def backfill_waits_longer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The settings with a backfill debounce well beyond the live one."""
    monkeypatch.setenv("STYLECAT_BACKFILL_INDEX_DEBOUNCE", "2")
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.undo()
    get_settings.cache_clear()


def test_a_backfill_schedules_a_later_indexing_run_and_a_live_write_still_gets_its_own_soon(
    clean_tables: None, backfill_waits_longer: Settings
) -> None:
    from worker.tasks import index_task

    settings = backfill_waits_longer
    sent = time.time()
    writes: list[Priority] = ["backfill", "backfill", "live", "backfill", "live"]
    for priority in writes:
        request_indexing(priority)
    due = [moment.timestamp() - sent for moment in _index_jobs(settings)]
    assert len(due) == 2  # one run of each priority; the writes meanwhile join it
    assert abs(due[0] - settings.backfill_index_debounce) < 0.3, due
    assert abs(due[1] - settings.index_debounce) < 0.3, due

    index_task.run()  # a run indexes whatever is pending: writes from then on schedule new runs
    request_indexing("backfill")
    request_indexing("live")
    assert len(_index_jobs(settings)) == 4
