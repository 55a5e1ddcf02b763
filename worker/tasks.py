"""Thin Celery tasks: parse, call one domain function, schedule what follows.

Retries (exponential backoff with jitter) are for transient errors only: the database, Redis or
storage briefly away. A bad image is never retried: it ends `failed` with a code.
"""

import logging

import redis
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_process_shutdown
from celery.utils.time import get_exponential_backoff_interval
from celery_batches import SimpleRequest
from sqlalchemy.exc import OperationalError

from core.allocator import keep_freed_memory
from core.queues import (
    CANARY_WATCH,
    CATEGORIZE,
    CATEGORIZE_LIVE,
    INDEX,
    INDEX_PENDING_BACKFILL_KEY,
    INDEX_PENDING_KEY,
    SWEEP,
    Queue,
)
from core.settings import get_settings
from db.session import get_engine, session_scope
from search.client import get_client
from search.indexer import index_pending
from worker import canary, metrics
from worker.app import PRELOAD_MODEL, app
from worker.backends import get_classifier
from worker.categorize import categorize, fail_all
from worker.classifier import TransientError
from worker.dispatch import Priority, categorize_queues_empty, enqueue_batch, redis_client, request_indexing
from worker.live_batches import LiveBatches, image_ids
from worker.sweeper import sweep

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, TransientError, redis.ConnectionError, ConnectionError, TimeoutError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 10,
}


@worker_process_init.connect
def _init_child(**_: object) -> None:
    """In each prefork child: fresh database connections, freed batches kept for the next one, and
    the model loaded before the first job."""
    get_engine().dispose(close=False)
    keep_freed_memory()
    if app.conf.get(PRELOAD_MODEL):  # a categorizing worker: the first job should not wait for the load
        try:
            get_classifier().current_model()
        except Exception as exc:  # the first job loads it, or retries
            log.warning("the model was not loaded at start (%s: %s)", type(exc).__name__, exc)


@worker_process_shutdown.connect
def _child_exited(pid: int, **_: object) -> None:
    metrics.child_exited(pid)


def _redis() -> redis.Redis:
    return redis_client(get_settings().redis_url)


@app.task(name=CATEGORIZE, bind=True, acks_late=True, reject_on_worker_lost=True, **RETRY)
def categorize_task(self: Task, image_ids: list[int]) -> dict[str, int]:
    routing_key = (self.request.delivery_info or {}).get("routing_key")
    counts, deferred = _run(image_ids, "backfill" if routing_key == Queue.BACKFILL.value else "live")
    if deferred:  # only the images whose source was briefly away run again, with backoff
        countdown = _backoff(self.request.retries)
        log.warning("source unavailable for %d images; retrying them in %d s", len(deferred), countdown)
        raise self.retry(args=(deferred,), countdown=countdown)
    return counts


@app.task(
    name=CATEGORIZE_LIVE,
    base=LiveBatches,
    acks_late=True,
    flush_every=get_settings().live_batch_size,
    flush_interval=get_settings().live_batch_wait_ms / 1000,
)
def categorize_live_task(requests: list[SimpleRequest]) -> dict[str, int]:
    """A batch of live uploads (see worker/live_batches.py). What must run again is handed on as a
    `categorize` job, which retries with backoff; every upload's job is acknowledged on return."""
    ids = image_ids(requests)
    try:
        counts, deferred = _run(ids, "live")
    except TRANSIENT as exc:
        log.warning("live batch of %d images hit %r; handing it on to retry with backoff", len(ids), exc)
        enqueue_batch(ids, "live", countdown=_backoff(0))
        return {"handed_on": len(ids)}
    if deferred:
        enqueue_batch(deferred, "live", countdown=_backoff(0))
    return counts


def _backoff(retries: int) -> int:
    return get_exponential_backoff_interval(2, retries, 120, full_jitter=True)


def _run(image_ids: list[int], priority: Priority) -> tuple[dict[str, int], list[int]]:
    """Categorize one batch: its counts, and the images whose source was briefly away."""
    metrics.BATCH_IMAGES.labels(priority).observe(len(image_ids))
    try:
        summary = categorize(
            image_ids=image_ids, classifier=get_classifier(), settings=get_settings(), session_factory=session_scope
        )
    except SoftTimeLimitExceeded:
        _after_time_limit(image_ids, priority)
        request_indexing(priority)
        return {"timed_out": len(image_ids)}, []
    if summary.split:
        log.warning("an earlier run of this batch of %d images was cut off; running each on its own", len(image_ids))
        _one_by_one(image_ids, priority)
        return {"split": len(image_ids)}, []
    request_indexing(priority)
    for outcome, count in (("categorized", len(summary.categorized)), ("failed", len(summary.failed))):
        metrics.IMAGES.labels(outcome).inc(count)
    for role, ids in (("shadow", summary.shadow), ("canary", summary.canary)):
        metrics.CHALLENGER.labels(role).inc(len(ids))
    if summary.challenger is not None:
        canary.count_attempts(_redis(), summary.challenger, len(summary.canary), len(summary.canary_failed))
    if summary.challenger_error:
        metrics.CHALLENGER_ERRORS.inc()
        log.warning("the challenger did not run on this batch; the champion served: %s", summary.challenger_error)
    counts = {"categorized": len(summary.categorized), "failed": len(summary.failed), "skipped": summary.skipped}
    return counts, summary.deferred


def _after_time_limit(image_ids: list[int], priority: Priority) -> None:
    """A lone image that overran is failed with `time_limit`. In a batch the culprit is unknown, so
    each image runs again on its own: the healthy ones finish and only the culprit is failed."""
    if len(image_ids) == 1:
        fail_all(
            image_ids=image_ids,
            code="time_limit",
            message=f"categorization took longer than {get_settings().task_soft_time_limit} s",
            session_factory=session_scope,
        )
        return
    log.warning("batch of %d images overran its time limit; running each on its own", len(image_ids))
    _one_by_one(image_ids, priority)


def _one_by_one(image_ids: list[int], priority: Priority) -> None:
    """Send each image of a batch as a job of its own, to the queue the batch came from."""
    for image_id in image_ids:
        enqueue_batch([image_id], priority)


@app.task(name=INDEX, acks_late=True, **RETRY)
def index_task() -> dict[str, int]:
    # writes from now on schedule the next run, whichever priority scheduled this one
    _redis().delete(INDEX_PENDING_KEY, INDEX_PENDING_BACKFILL_KEY)
    report = index_pending(
        session_factory=session_scope, client=get_client(), alias=get_settings().opensearch_index, max_batches=2
    )
    if report.more:  # yield the worker to live tasks, then carry on
        request_indexing()
    return {"indexed": report.indexed, "stale": report.stale, "errors": report.errors, "parked": report.parked}


@app.task(name=SWEEP, acks_late=True, **RETRY)
def sweep_task() -> dict[str, int]:
    settings = get_settings()
    client = _redis()
    queues_empty = categorize_queues_empty(client)
    with session_scope() as session:
        result = sweep(
            session=session,
            stale_after=settings.stale_after,
            max_attempts=settings.max_attempts,
            queues_empty=queues_empty,
        )
    for start in range(0, len(result.requeue), settings.backfill_batch_size):
        enqueue_batch(result.requeue[start : start + settings.backfill_batch_size], "live")
    if result.failed:
        request_indexing()
    return {"requeued": len(result.requeue), "failed": result.failed}


@app.task(name=CANARY_WATCH, acks_late=True, **RETRY)
def canary_watch_task() -> dict[str, int]:
    """Halt a canary that crossed a threshold, and send the images it served to the champion."""
    halts = canary.watch(
        session_factory=session_scope,
        client=_redis(),
        settings=get_settings(),
        send=lambda ids: enqueue_batch(ids, "backfill"),
    )
    for halt in halts:
        log.warning("halted the canary of %s version %s: %s", halt.model_name, halt.model_version, halt.reason)
    return {"halted": len(halts), "requeued": sum(halt.requeued for halt in halts)}
