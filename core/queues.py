"""The queue contract: queue names, task names and the indexer's debounce key.

This module imports nothing, so anyone (API, CLI, tests, benchmarks) can name a queue without
building the Celery app; worker/app.py binds the queues and worker/dispatch.py sends to them.
"""

from enum import StrEnum


class Queue(StrEnum):
    LIVE = "categorize.live"
    BACKFILL = "categorize.backfill"
    INDEX = "index"


CATEGORIZE = "stylecat.categorize"
CATEGORIZE_LIVE = "stylecat.categorize-live"
"""One live upload; a live worker gathers these into batches (`worker/live_batches.py`)."""
INDEX = "stylecat.index"
SWEEP = "stylecat.sweep"
CANARY_WATCH = "stylecat.canary-watch"
INDEX_PENDING_KEY = "stylecat:index-scheduled"
"""Set while an indexing run is scheduled soon (after a live upload, a review, a failure), so that
writes meanwhile join it (debounce)."""
INDEX_PENDING_BACKFILL_KEY = "stylecat:index-scheduled:backfill"
"""The same for the later run that a backfill's writes schedule."""
