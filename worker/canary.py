"""The canary watch: a challenger's canary stops by itself when it goes wrong.

Two signals per challenger version that served as the canary:

- its failure rate: of the canary images it was meant to serve, the share it could not (its model
  or endpoint failed, and the champion served them), once it had `canary_min_attempts`;
- its disagreement with reviews: of the reviewed images it served, the share whose review says
  another style, once `canary_min_reviews` of them were reviewed.

Past `canary_max_failure_rate` or `canary_max_disagreement`, a halt is recorded with its reason
and figures; the version serves no more canary images (its shadow goes on), and the images it
served are sent to be categorized again by the champion (a reviewed image keeps its review).
Workers count attempts and failures in Redis (a hash per version); the reviews are in PostgreSQL.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.settings import Settings
from db.models import CanaryHalt, Image, ImageStatus, PredictionRole, StylePrediction, StyleSource
from db.session import SessionFactory
from db.writes import ModelRef

KEY_PREFIX = "stylecat:canary:"


def _key(name: str, version: str) -> str:
    return f"{KEY_PREFIX}{name}/{version}"


def count_attempts(client: redis.Redis, challenger: ModelRef, served: int, failed: int) -> None:
    """Add one batch's canary images: those the challenger served and those it could not."""
    if served or failed:
        with client.pipeline() as pipe:
            pipe.hincrby(_key(challenger.name, challenger.version), "served", served)
            pipe.hincrby(_key(challenger.name, challenger.version), "failed", failed)
            pipe.execute()


def is_halted(session: Session, name: str, version: str) -> bool:
    found = select(CanaryHalt.id).where(CanaryHalt.model_name == name, CanaryHalt.model_version == version)
    return session.scalar(found) is not None


@dataclass(frozen=True)
class Signals:
    name: str
    version: str
    attempts: int
    failed: int
    reviewed: int
    disagreed: int

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.attempts if self.attempts else None

    @property
    def disagreement(self) -> float | None:
        return self.disagreed / self.reviewed if self.reviewed else None

    def as_json(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "failed": self.failed,
            "failure_rate": _rounded(self.failure_rate),
            "reviewed": self.reviewed,
            "disagreed": self.disagreed,
            "disagreement": _rounded(self.disagreement),
        }

    def reason(self, settings: Settings) -> str | None:
        """Why the canary must stop, or None while it may go on."""
        rate, disagreement = self.failure_rate, self.disagreement
        if (
            self.attempts >= settings.canary_min_attempts
            and rate is not None
            and rate > settings.canary_max_failure_rate
        ):
            return (
                f"failure rate {rate:.3f} over {self.attempts} canary images exceeds {settings.canary_max_failure_rate}"
            )
        if (
            self.reviewed >= settings.canary_min_reviews
            and disagreement is not None
            and disagreement > settings.canary_max_disagreement
        ):
            return (
                f"disagrees with {self.disagreed} of {self.reviewed} reviews ({disagreement:.3f}), "
                f"exceeds {settings.canary_max_disagreement}"
            )
        return None


def _rounded(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def signals(session: Session, client: redis.Redis, name: str, version: str) -> Signals:
    counts = {k.decode(): int(v) for k, v in client.hgetall(_key(name, version)).items()}
    reviewed, disagreed = session.execute(
        select(func.count(), func.count().filter(StylePrediction.style != Image.style))
        .select_from(StylePrediction)
        .join(Image, Image.id == StylePrediction.image_id)
        .where(
            StylePrediction.role == PredictionRole.CANARY,
            StylePrediction.model_name == name,
            StylePrediction.model_version == version,
            Image.style_source == StyleSource.REVIEW,
        )
    ).one()
    attempts = counts.get("served", 0) + counts.get("failed", 0)
    return Signals(name, version, attempts, counts.get("failed", 0), reviewed, disagreed)


def canary_versions(session: Session, client: redis.Redis) -> set[tuple[str, str]]:
    """Every version that served, or tried to serve, as the canary."""
    found = {
        tuple(key.decode().removeprefix(KEY_PREFIX).rsplit("/", 1)) for key in client.scan_iter(match=f"{KEY_PREFIX}*")
    }
    served = session.execute(
        select(StylePrediction.model_name, StylePrediction.model_version)
        .where(StylePrediction.role == PredictionRole.CANARY)
        .distinct()
    )
    return {(str(name), str(version)) for name, version in found} | {(n, v) for n, v in served}


def watch(
    *,
    session_factory: SessionFactory,
    client: redis.Redis,
    settings: Settings,
    send: Callable[[list[int]], None],
) -> list[CanaryHalt]:
    """Halt every canary that crossed a threshold; return the halts made by this run."""
    made = []
    with session_factory() as session:
        versions = canary_versions(session, client)
    for name, version in sorted(versions):
        with session_factory() as session:
            if is_halted(session, name, version):
                continue
            found = signals(session, client, name, version)
            reason = found.reason(settings)
            if reason is None:
                continue
            inserted = session.execute(
                pg_insert(CanaryHalt)
                .values(model_name=name, model_version=version, reason=reason, figures=found.as_json())
                .on_conflict_do_nothing()
                .returning(CanaryHalt.id)
            ).scalar()
        if inserted is None:  # another watcher halted it first
            continue
        requeued = 0
        for batch in served_images(session_factory, name, version, settings.backfill_batch_size):
            send(batch)
            requeued += len(batch)
        with session_factory() as session:
            halt = session.get_one(CanaryHalt, inserted)
            halt.requeued = requeued
            session.flush()
            session.expunge(halt)
        made.append(halt)
    return made


def served_images(session_factory: SessionFactory, name: str, version: str, size: int) -> Iterator[list[int]]:
    """The images whose style the version set (no review since), a batch at a time."""
    last = 0
    while True:
        with session_factory() as session:
            ids = list(
                session.scalars(
                    select(Image.id)
                    .where(
                        Image.id > last,
                        Image.model_name == name,
                        Image.model_version == version,
                        Image.status == ImageStatus.CATEGORIZED,
                        Image.style_source.is_distinct_from(StyleSource.REVIEW),
                    )
                    .order_by(Image.id)
                    .limit(size)
                )
            )
        if not ids:
            return
        yield ids
        last = ids[-1]
