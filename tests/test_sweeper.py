"""The sweeper against real PostgreSQL: which images it sends again, and when (#12 item 14)."""

from datetime import timedelta

from sqlalchemy import func, insert, update

from db.models import Image
from db.session import session_scope
from tests.factories import image_row
from worker.sweeper import sweep

HOUR_AGO = func.now() - timedelta(hours=1)


def _sweep(queues_empty: bool) -> list[int]:
    with session_scope() as session:
        return sweep(session=session, stale_after=600, max_attempts=5, queues_empty=queues_empty).requeue


def test_a_lost_live_job_is_sent_again_even_while_a_backfill_fills_the_queues(clean_tables: None) -> None:
    with session_scope() as session:
        live = image_row(session)  # an upload: its live job was sent when it was created
        fresh = image_row(session)  # an upload whose job is still young
        backfill = session.scalar(insert(Image).values(storage_ref="local:x").returning(Image.id))
        session.execute(update(Image).where(Image.id == live).values(updated_at=HOUR_AGO, live_since=HOUR_AGO))
        session.execute(update(Image).where(Image.id == backfill).values(updated_at=HOUR_AGO))

    # The queues hold a long backfill: only the live job an hour old is certainly lost.
    assert _sweep(queues_empty=False) == [live]
    assert _sweep(queues_empty=False) == []  # sent again just now: not again until it is stale
    # Once the queues are empty, a backfill image still queued lost its job too.
    assert _sweep(queues_empty=True) == [backfill]
    assert fresh not in _sweep(queues_empty=True)
