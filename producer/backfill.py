"""Re-categorize the existing catalogue: keyset pages of ids → batches on the backfill queue.

Memory stays flat on millions of rows (one page of ids at a time), and running it twice, or again
after an interrupt, has no duplicate effect: a task skips images this model version already did.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, func, select, true, update
from sqlalchemy.orm import Session

from db.models import Image, ImageStatus, StyleSource
from db.session import SessionFactory


class Selection(StrEnum):
    MISSING = "missing"
    ALL = "all"
    FAILED = "failed"
    OTHER_VERSION = "other-version"


@dataclass(frozen=True)
class Criteria:
    selection: Selection = Selection.MISSING
    model_version: str | None = None
    since: datetime | None = None
    limit: int | None = None

    def where(self) -> ColumnElement[bool]:
        clause: ColumnElement[bool] = true()
        if self.selection is Selection.MISSING:
            clause = Image.predicted_at.is_(None) & Image.status.in_([ImageStatus.QUEUED, ImageStatus.PROCESSING])
        elif self.selection is Selection.FAILED:
            clause = Image.status == ImageStatus.FAILED
        elif self.selection is Selection.OTHER_VERSION:
            clause = (
                (Image.status == ImageStatus.CATEGORIZED)
                & Image.model_version.is_distinct_from(self.model_version)
                & Image.style_source.is_distinct_from(StyleSource.REVIEW)  # a review is never touched
            )
        if self.since is not None:
            clause = clause & (Image.created_at >= self.since)
        return clause


def count(*, session: Session, criteria: Criteria) -> int:
    total = session.scalar(select(func.count()).select_from(Image).where(criteria.where())) or 0
    return min(total, criteria.limit) if criteria.limit is not None else total


def pages(*, session_factory: SessionFactory, criteria: Criteria, page_size: int) -> Iterator[list[int]]:
    """Ids in ascending order, a page at a time (WHERE id > last ORDER BY id LIMIT n)."""
    last, remaining = 0, criteria.limit
    while remaining is None or remaining > 0:
        size = page_size if remaining is None else min(page_size, remaining)
        with session_factory() as session:
            ids = list(
                session.scalars(
                    select(Image.id).where(criteria.where(), Image.id > last).order_by(Image.id).limit(size)
                )
            )
            if ids and criteria.selection is Selection.FAILED:  # a new chance: attempts start again
                session.execute(
                    update(Image).where(Image.id.in_(ids)).values(status=ImageStatus.QUEUED.value, attempts=0)
                )
        if not ids:
            return
        yield ids
        last = ids[-1]
        if remaining is not None:
            remaining -= len(ids)


def backfill(
    *,
    session_factory: SessionFactory,
    criteria: Criteria,
    batch_size: int,
    send: Callable[[Sequence[int]], None],
    on_batch: Callable[[int], None] = lambda n: None,
) -> int:
    """Enqueue every selected id exactly once, in batches of `batch_size`; return how many."""
    sent = 0
    for page in pages(session_factory=session_factory, criteria=criteria, page_size=batch_size * 16):
        for start in range(0, len(page), batch_size):
            batch = page[start : start + batch_size]
            send(batch)
            sent += len(batch)
            on_batch(len(batch))
    return sent


def status_counts(*, session: Session) -> dict[str, int]:
    rows = session.execute(select(Image.status, func.count()).group_by(Image.status)).all()
    return {status.value: 0 for status in ImageStatus} | {status: n for status, n in rows}
