"""Recover what a lost job or a dead worker left behind: PostgreSQL is the source of truth.

Images `processing` past `stale_after` lost their worker. Images `queued` past it lost their job:
for a live job (`live_since`) that is certain whatever the queues hold, since live work goes first
and never waits that long; for a backfill job only once the categorize queues are empty (a long
backfill keeps images queued for good reasons). All are sent again to the live queue, until
`max_attempts` fails them with a code.
"""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.models import Image, ImageStatus
from db.writes import mark_failed


@dataclass(frozen=True)
class SweepResult:
    requeue: list[int]
    """Ids to enqueue again, once the transaction that marked them `queued` has committed."""
    failed: int


def sweep(
    *, session: Session, stale_after: float, max_attempts: int, queues_empty: bool, limit: int = 5000
) -> SweepResult:
    cutoff = func.now() - timedelta(seconds=stale_after)
    queued = Image.status == ImageStatus.QUEUED.value
    lost = (Image.status == ImageStatus.PROCESSING.value) | (queued & (Image.live_since < cutoff))
    if queues_empty:
        lost = lost | queued
    stale = session.execute(
        select(Image.id, Image.attempts)
        .where(lost, Image.updated_at < cutoff)
        .order_by(Image.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    exhausted = [image_id for image_id, attempts in stale if attempts >= max_attempts]
    retry = [image_id for image_id, attempts in stale if attempts < max_attempts]
    for image_id in exhausted:
        mark_failed(
            session=session,
            image_id=image_id,
            code="too_many_attempts",
            message=f"still unfinished after {max_attempts} attempts",
        )
    if retry:
        session.execute(
            update(Image)
            .where(Image.id.in_(retry))
            .values(status=ImageStatus.QUEUED.value, updated_at=func.now(), live_since=func.now())
        )
    return SweepResult(requeue=retry, failed=len(exhausted))
