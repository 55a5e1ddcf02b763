"""Categorize a batch of images: claim → fetch → classify (one forward pass) → one write transaction.

Bad images end `failed` with an error code. An image whose source is briefly unavailable (a URL
answering 503, storage away) does not hold up its batch: the others are written, and it is handed
back in `Summary.deferred` for the task to retry alone, within its own budget
(`max_transient_failures`, then `source_unavailable`). Trouble that hits the whole batch (the
classifier's endpoint, the database) raises `TransientError` for the task to retry with backoff.
A batch whose earlier run was cut off (its worker process died) is not run again as a batch: the
task runs each image on its own, so one image that kills workers fails alone (`too_many_attempts`).
"""

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from core.settings import Settings
from db.session import SessionFactory
from db.writes import Prediction, claim, defer, interrupted, mark_failed, record_predictions, release
from images.fetch import FetchError, fetch
from model.preprocess import ImageDecodeError
from worker.classifier import Classifier, TransientError


@dataclass
class Summary:
    categorized: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    deferred: list[int] = field(default_factory=list)
    """Images whose source was briefly unavailable, to retry on their own."""
    skipped: int = 0
    split: bool = False
    """An earlier run of this batch was cut off: nothing was done, each image is to run on its own."""


def categorize(
    *, image_ids: Sequence[int], classifier: Classifier, settings: Settings, session_factory: SessionFactory
) -> Summary:
    summary = Summary()
    model = classifier.current_model()  # resolves (and if needed loads) the model version first
    with session_factory() as session:
        if len(image_ids) > 1 and interrupted(session=session, image_ids=image_ids):
            summary.split = True  # one of them may kill every worker that runs the batch
            return summary
        claimed = [
            (row.id, row.storage_ref)
            for row in claim(session=session, image_ids=image_ids, model=model, max_attempts=settings.max_attempts)
        ]
    summary.skipped = len(set(image_ids)) - len(claimed)

    fetched, errors, unavailable = _fetch_all(claimed, settings)
    try:
        started = time.perf_counter()
        model, results = classifier.classify([data for _, data in fetched])
        latency_ms = (time.perf_counter() - started) * 1000 / max(1, len(fetched))
    except TransientError:
        with session_factory() as session:
            release(session=session, image_ids=[image_id for image_id, _ in claimed])
        raise

    predictions = []
    for (image_id, _), result in zip(fetched, results, strict=True):
        if isinstance(result, ImageDecodeError):
            errors[image_id] = (result.code, result.message)
        else:
            predictions.append(
                Prediction(image_id=image_id, style=result.pred, probs=result.probs, latency_ms=round(latency_ms, 3))
            )
    with session_factory() as session:
        record_predictions(session=session, predictions=predictions, model=model)
        for image_id, (code, message) in errors.items():
            mark_failed(session=session, image_id=image_id, code=code, message=message)
        summary.deferred, out_of_budget = defer(
            session=session, unavailable=unavailable, budget=settings.max_transient_failures
        )
    summary.categorized = [p.image_id for p in predictions]
    summary.failed = {image_id: code for image_id, (code, _) in errors.items()}
    summary.failed |= {image_id: "source_unavailable" for image_id in out_of_budget}
    return summary


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
        pool = ThreadPoolExecutor(min(settings.fetch_concurrency, len(claimed)))
        try:
            results = list(pool.map(one, [ref for _, ref in claimed]))
        finally:  # on a time limit, do not wait for the fetches still queued
            pool.shutdown(wait=False, cancel_futures=True)
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


def fail_all(*, image_ids: Sequence[int], code: str, message: str, session_factory: SessionFactory) -> None:
    with session_factory() as session:
        for image_id in image_ids:
            mark_failed(session=session, image_id=image_id, code=code, message=message)
