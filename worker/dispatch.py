"""Sending work to the queues, and how deep they are: the one place the API, the CLI, the tasks
and the sweeper go through. Jobs carry ids only; enqueue after the row's transaction commits.

Sent by task name, so the caller (the API, a host application) never imports the worker's model code.
"""

from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

import redis

from core.queues import CATEGORIZE, CATEGORIZE_LIVE, INDEX, INDEX_PENDING_BACKFILL_KEY, INDEX_PENDING_KEY, Queue
from core.settings import get_settings
from worker.app import app

Priority = Literal["live", "backfill"]


def enqueue(image_id: int, priority: Priority = "live") -> None:
    """The hook for host applications: categorize this (committed) image in the background. Live
    images go one per job, which the live worker gathers into batches."""
    if priority == "live":
        app.send_task(CATEGORIZE_LIVE, args=[[image_id]], queue=Queue.LIVE.value)
    else:
        enqueue_batch([image_id], priority)


def enqueue_batch(image_ids: Sequence[int], priority: Priority = "backfill", countdown: float = 0) -> None:
    """One job for these images, run as one batch (retries, reruns and backfills)."""
    queue = Queue.LIVE if priority == "live" else Queue.BACKFILL
    app.send_task(CATEGORIZE, args=[list(image_ids)], queue=queue.value, countdown=countdown or None)


@lru_cache
def redis_client(url: str) -> redis.Redis:
    """One connection pool per process and URL."""
    return redis.Redis.from_url(url)


def request_indexing(priority: Priority = "live") -> None:
    """Debounced: at most one indexing run of each priority is scheduled at a time, and writes
    meanwhile join it (every run clears both keys when it starts: it indexes whatever is pending
    then). A backfill's writes wait `backfill_index_debounce`, so that a backfill sends few, large
    bulk requests; a live write schedules a run of its own after `index_debounce`, unless more live
    jobs wait in the queue (a burst of uploads, beyond the jobs the workers have already taken, or
    a retry): then it waits as a backfill's does, since OpenSearch's cost is mostly per bulk
    request, and the uploads behind it wait longer than that."""
    settings = get_settings()
    client = redis_client(settings.redis_url)
    burst = priority == "live" and client.llen(Queue.LIVE.value) > 0
    key, delay = (
        (INDEX_PENDING_BACKFILL_KEY, settings.backfill_index_debounce)
        if priority == "backfill" or burst
        else (INDEX_PENDING_KEY, settings.index_debounce)
    )
    if client.set(key, 1, nx=True, ex=max(5, int(delay * 10))):
        app.send_task(INDEX, queue=Queue.INDEX.value, countdown=delay)


def depths(client: redis.Redis, queues: Sequence[Queue] = tuple(Queue)) -> dict[Queue, int]:
    """Messages waiting in each queue."""
    return {queue: int(client.llen(queue.value)) for queue in queues}


def categorize_queues_empty(client: redis.Redis) -> bool:
    return sum(depths(client, (Queue.LIVE, Queue.BACKFILL)).values()) == 0
