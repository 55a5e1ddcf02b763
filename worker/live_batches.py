"""Live uploads gathered into batches: one forward pass and one transaction for many uploads.

celery-batches buffers the live jobs in the worker's consumer and hands them to a pool child as one
call, when `live_batch_size` have arrived or `live_batch_wait_ms` after the first, whichever comes
first. While every child is busy, the jobs are held in the consumer instead of queueing in the pool
as many small batches, so that under load each batch is as full as what has arrived allows. What is
added here keeps the guarantees the single-image task has:

- **acks_late per image, worker lost → redelivered.** Every job is acknowledged only when the
  batch call has returned (its results committed, or its images handed on as new jobs). If the
  child dies or is killed at the hard time limit, every job of the batch is rejected back to the
  queue, as `reject_on_worker_lost` does for one task; the rerun sees the cut-off batch and runs
  each image alone (`worker/categorize.py`).
- **Time limits.** The batch call runs under the task soft and hard time limits, as any task does.

The consumer must be allowed to hold a batch's worth of unacknowledged jobs: `live_prefetch`.
"""

import math
from collections.abc import Collection

from celery.worker.request import Request
from celery_batches import Batches, SimpleRequest
from celery_batches.trace import apply_batches_task


class LiveBatches(Batches):
    abstract = True

    def __init__(self) -> None:
        super().__init__()
        self._held: list[Request] = []
        self._running = 0

    def flush(self, requests: Collection[Request]) -> None:
        """Called on the deadline and on every `flush_every`-th job. While every child is busy the
        jobs are held here (in the consumer, unacknowledged), so that a child that comes free takes
        up to a whole batch at once rather than a queue of small ones the deadline cut."""
        self._held.extend(requests)
        self._dispatch()

    def _dispatch(self) -> None:
        while self._held and self._running < (self._pool.limit or 1):
            batch, self._held = self._held[: self.flush_every], self._held[self.flush_every :]
            self._running += 1
            self._send(batch)

    def _send(self, batch: list[Request]) -> None:
        def done(_: object) -> None:
            for request in batch:
                request.acknowledge()
            self._finished()

        def lost(_: object) -> None:  # the child died, or was killed at the hard time limit
            for request in batch:
                request.reject(requeue=True)
            self._finished()

        self._pool.apply_async(
            apply_batches_task,
            (self, ([SimpleRequest.from_request(r) for r in batch],), 0, None),
            callback=done,
            error_callback=lost,
            soft_timeout=self.app.conf.task_soft_time_limit,
            timeout=self.app.conf.task_time_limit,
        )

    def _finished(self) -> None:
        self._running -= 1
        self._dispatch()


def image_ids(requests: Collection[SimpleRequest]) -> list[int]:
    """The images of a batch's jobs (each job carries a list of ids), once each, in arrival order."""
    return list(dict.fromkeys(image_id for request in requests for image_id in request.args[0]))


def live_prefetch(batch_size: int, concurrency: int) -> int:
    """Prefetch multiplier that lets the consumer hold a batch for each child and one more filling."""
    concurrency = max(1, concurrency)
    return max(1, math.ceil((concurrency + 1) * batch_size / concurrency))
