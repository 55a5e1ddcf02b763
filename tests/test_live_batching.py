"""Live uploads go one per job; the live worker gathers them into batches (one forward pass, one
write transaction each), and a lone upload still runs after `live_batch_wait_ms`."""

import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from core.settings import Settings
from db.models import Image
from db.session import session_scope
from tests.faults import catalogue, end_state, pipeline, statuses
from tests.processes import free_port, wait_for
from worker.dispatch import enqueue

LIVE = "categorize.live,index"


def _write_transactions(ids: list[int]) -> int:
    """`predicted_at` is the write transaction's start time (`now()`): one value per transaction."""
    with session_scope() as session:
        return session.scalar(select(func.count(func.distinct(Image.predicted_at))).where(Image.id.in_(ids))) or 0


def test_a_burst_of_live_uploads_is_categorized_in_batches(
    settings: Settings, clean_tables: None, tmp_path: Path
) -> None:
    """Before: one task, one forward pass and one transaction per upload (60 for 60)."""
    ids = catalogue(60, settings)
    port = free_port()
    with pipeline(tmp_path, {"STYLECAT_LIVE_BATCH_SIZE": "16", "STYLECAT_LIVE_BATCH_WAIT_MS": "50"}) as running:
        for image_id in ids:  # queued while no worker runs, as a burst finds them
            enqueue(image_id, "live")
        running.start("live", ["worker", "--queues", LIVE, "--concurrency", "1", "--metrics-port", str(port)])
        outcome = end_state(ids)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert outcome.categorized == 60
    transactions = _write_transactions(ids)
    assert transactions <= 8, f"{transactions} write transactions for 60 uploads: not batched"
    runs = _sample(metrics, 'stylecat_batch_images_count{queue="live"}')
    assert _sample(metrics, 'stylecat_batch_images_sum{queue="live"}') == 60 and runs == transactions


def _sample(metrics: str, name: str) -> float:
    return next(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(name + " "))


def test_a_lone_live_upload_waits_no_longer_than_the_batch_deadline(
    settings: Settings, clean_tables: None, tmp_path: Path
) -> None:
    """A batch of 32 never fills here: each upload runs on the deadline, alone, with no batch partner."""
    ids = catalogue(4, settings)
    with pipeline(tmp_path, {"STYLECAT_LIVE_BATCH_SIZE": "32", "STYLECAT_LIVE_BATCH_WAIT_MS": "20"}) as running:
        running.worker("live", LIVE)
        enqueue(ids[0], "live")  # the child loads the model on this one
        wait_for(lambda: statuses(ids[:1])["categorized"] == 1, 90, "the first upload")
        seconds = []
        for image_id in ids[1:]:
            started = time.monotonic()
            enqueue(image_id, "live")
            wait_for(lambda i=image_id: statuses([i])["categorized"] == 1, 10, "a lone upload", interval=0.005)
            seconds.append(time.monotonic() - started)
    assert _write_transactions(ids) == 4
    assert max(seconds) < 1.0, f"lone uploads took {seconds} s with a 20 ms deadline"
