"""Categorize a batch of images: claim → fetch → classify (one forward pass) → one write transaction.

Bad images end `failed` with an error code. An image whose source is briefly unavailable (a URL
answering 503, storage away) does not hold up its batch: the others are written, and it is handed
back in `Summary.deferred` for the task to retry alone, within its own budget
(`max_transient_failures`, then `source_unavailable`). Trouble that hits the whole batch (the
classifier's endpoint, the database) raises `TransientError` for the task to retry with backoff.
A batch whose earlier run was cut off (its worker process died) is not run again as a batch: the
task runs each image on its own, so one image that kills workers fails alone (`too_many_attempts`).
"""

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy.orm import Session

from core.settings import Settings
from db.models import PredictionRole
from db.session import SessionFactory
from db.writes import (
    ModelRef,
    Prediction,
    claim,
    defer,
    interrupted,
    mark_failed,
    record_predictions,
    record_shadow,
    release,
)
from images.fetch import FetchError, fetch
from model.predictor import StyleResult
from model.preprocess import ImageDecodeError
from worker.canary import is_halted
from worker.challenger import challenger_roles
from worker.classifier import Classified, Classifier, TransientError

CANARY = PredictionRole.CANARY


@dataclass
class Summary:
    categorized: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    deferred: list[int] = field(default_factory=list)
    """Images whose source was briefly unavailable, to retry on their own."""
    skipped: int = 0
    split: bool = False
    """An earlier run of this batch was cut off: nothing was done, each image is to run on its own."""
    challenger: ModelRef | None = None
    """The challenger this run meant to use, if any."""
    shadow: list[int] = field(default_factory=list)
    """Images the challenger predicted beside the champion (stored, used by nothing)."""
    canary: list[int] = field(default_factory=list)
    """Images the challenger served."""
    canary_failed: list[int] = field(default_factory=list)
    """Images the challenger was meant to serve but could not (the champion served them)."""
    challenger_error: str | None = None
    """Why the challenger did not run on the images it was meant for (the champion served them)."""


def categorize(
    *, image_ids: Sequence[int], classifier: Classifier, settings: Settings, session_factory: SessionFactory
) -> Summary:
    summary = Summary()
    model = classifier.current_model()  # resolves (and if needed loads) the model version first
    with session_factory() as session:
        if len(image_ids) > 1 and interrupted(session=session, image_ids=image_ids):
            summary.split = True  # one of them may kill every worker that runs the batch
            return summary
        roles, summary.challenger = _challenger_plan(image_ids, classifier, settings, model, session)
        canary = {i: summary.challenger for i, role in roles.items() if summary.challenger and role == CANARY}
        claimed = [
            (row.id, row.storage_ref)
            for row in claim(
                session=session, image_ids=image_ids, model=model, max_attempts=settings.max_attempts, canary=canary
            )
        ]
    summary.skipped = len(set(image_ids)) - len(claimed)

    fetched, errors, unavailable = _fetch_all(claimed, settings)
    items = [data for _, data in fetched]
    ids = [image_id for image_id, _ in fetched]
    try:
        started = time.perf_counter()
        out = _classify(classifier, items, [roles.get(image_id) for image_id in ids])
        latency_ms = round((time.perf_counter() - started) * 1000 / max(1, len(fetched)), 3)
    except TransientError:
        with session_factory() as session:
            release(session=session, image_ids=[image_id for image_id, _ in claimed])
        raise

    served: dict[PredictionRole, list[Prediction]] = {PredictionRole.SERVED: [], CANARY: []}
    shadow: list[Prediction] = []
    for n, image_id in enumerate(ids):
        role = roles.get(image_id) if out.challenger else None
        result = out.challenger_results[n] if role == CANARY else out.results[n]
        if isinstance(result, ImageDecodeError):
            errors[image_id] = (result.code, result.message)
            continue
        served[CANARY if role == CANARY else PredictionRole.SERVED].append(
            _prediction(image_id, result, latency_ms, out.appearance.get(n))
        )
        if role == PredictionRole.SHADOW and isinstance(guess := out.challenger_results[n], StyleResult):
            shadow.append(_prediction(image_id, guess, latency_ms))
    with session_factory() as session:
        record_predictions(session=session, predictions=served[PredictionRole.SERVED], model=out.model)
        if out.challenger:
            record_predictions(
                session=session,
                predictions=served[CANARY],
                model=out.challenger,
                role=CANARY,
            )
            record_shadow(session=session, predictions=shadow, model=out.challenger)
        for image_id, (code, message) in errors.items():
            mark_failed(session=session, image_id=image_id, code=code, message=message)
        summary.deferred, out_of_budget = defer(
            session=session, unavailable=unavailable, budget=settings.max_transient_failures
        )
    summary.categorized = [p.image_id for predictions in served.values() for p in predictions]
    summary.canary = [p.image_id for p in served[CANARY]]
    summary.shadow = [p.image_id for p in shadow]
    summary.challenger_error = out.challenger_error
    if out.challenger is None:
        summary.canary_failed = [image_id for image_id in ids if roles.get(image_id) == CANARY]
    summary.failed = {image_id: code for image_id, (code, _) in errors.items()}
    summary.failed |= {image_id: "source_unavailable" for image_id in out_of_budget}
    return summary


def _challenger_plan(
    image_ids: Sequence[int], classifier: Classifier, settings: Settings, model: ModelRef, session: Session
) -> tuple[dict[int, PredictionRole], ModelRef | None]:
    """The challenger's role per image (see worker/challenger.py) and the version that would play it:
    nothing while both fractions are 0, no challenger is set, or it is the champion itself; no
    canary images while its canary is halted (worker/canary.py)."""
    if not (settings.shadow_fraction or settings.canary_fraction):
        return {}, None
    challenger = classifier.current_challenger()
    if challenger is None or challenger.version == model.version:
        return {}, None
    canary = settings.canary_fraction
    if canary and is_halted(session, challenger.name, challenger.version):
        canary = 0.0
    roles = challenger_roles(image_ids, shadow=settings.shadow_fraction, canary=canary)
    return roles, challenger if roles else None


def _classify(classifier: Classifier, items: list[bytes], roles: list[PredictionRole | None]) -> Classified:
    """One call for both models; if the challenger could not run, the champion serves its canary images."""
    champion = [n for n, role in enumerate(roles) if role != CANARY]
    challenger = [n for n, role in enumerate(roles) if role is not None]
    out = classifier.classify(items, champion=champion, challenger=challenger)
    if challenger and out.challenger is None:
        stranded = [n for n, role in enumerate(roles) if role == CANARY]
        if stranded:
            out.results |= classifier.classify(items, champion=stranded).results
    return out


def _prediction(
    image_id: int, result: StyleResult, latency_ms: float, appearance: tuple[float, float] | None = None
) -> Prediction:
    return Prediction(
        image_id=image_id, style=result.pred, probs=result.probs, latency_ms=latency_ms, appearance=appearance
    )


def _fetch_all(
    claimed: list[tuple[int, str]], settings: Settings
) -> tuple[list[tuple[int, bytes]], dict[int, tuple[str, str]], dict[int, str]]:
    """(image bytes in claim order, permanent errors as (code, message), transient errors as their
    message). Up to `fetch_concurrency` at once: from S3 or URLs each fetch is a round trip."""

    def one(ref: str) -> bytes | FetchError:
        try:
            return fetch(ref, settings)
        except FetchError as exc:
            return exc

    if len(claimed) > 1 and settings.fetch_concurrency > 1:
        pool = _fetchers(settings.fetch_concurrency, os.getpid())
        futures = [pool.submit(one, ref) for _, ref in claimed]
        try:
            results = [future.result() for future in futures]
        except BaseException:  # a time limit: the queued fetches are dropped, and the next batch
            pool.shutdown(wait=False, cancel_futures=True)  # gets threads of its own, not busy ones
            _fetchers.cache_clear()
            raise
    else:
        results = [one(ref) for _, ref in claimed]
    fetched: list[tuple[int, bytes]] = []
    errors: dict[int, tuple[str, str]] = {}
    unavailable: dict[int, str] = {}
    for (image_id, _), result in zip(claimed, results, strict=True):
        if isinstance(result, bytes):
            fetched.append((image_id, result))
        elif result.transient:
            unavailable[image_id] = result.message
        else:
            errors[image_id] = (result.code, result.message)
    return fetched, errors, unavailable


@lru_cache
def _fetchers(size: int, pid: int) -> ThreadPoolExecutor:
    """The threads that fetch batches, kept for the process's later batches: starting a batch's
    threads afresh cost a sixth of a worker's CPU for fetching from S3. One pool per process
    (`pid`): a forked child has none of its parent's threads."""
    return ThreadPoolExecutor(size, thread_name_prefix=f"fetch-{pid}")


def fail_all(*, image_ids: Sequence[int], code: str, message: str, session_factory: SessionFactory) -> None:
    with session_factory() as session:
        for image_id in image_ids:
            mark_failed(session=session, image_id=image_id, code=code, message=message)
