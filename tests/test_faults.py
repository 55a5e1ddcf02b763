"""Faults injected into the real running stack while work is in flight (`pytest -m faults`).

Each scenario puts a known set of images through the pipeline, breaks something, lets the system
recover by itself, and checks the end state with `end_state`: every image categorized (or failed
with the expected code), one prediction per image, PostgreSQL and OpenSearch agreeing. Each adds
its measured row to `stack_dir/test/reliability.jsonl`, from which docs/reliability.md is written.
"""

import os
import signal
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from db.session import session_scope
from tests.factories import illustration, image_row
from tests.faults import (
    FAULT_ENV,
    EndpointProxy,
    Outcome,
    RedisServer,
    backfill,
    catalogue,
    end_state,
    pipeline,
    queue_depth,
    record,
    service_down,
    settled,
    statuses,
    upload,
)
from tests.processes import Process, Unavailable, free_port, http_source, wait_for
from worker.dispatch import enqueue, enqueue_batch

pytestmark = pytest.mark.faults

LIVE = "categorize.live,index"
BACKFILL = "categorize.backfill"
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _done(outcome: Outcome, scenario: str, settings: Settings, notes: str = "") -> None:
    outcome.scenario, outcome.notes = scenario, notes
    record(outcome, settings)
    assert outcome.lost == 0 and outcome.duplicates == 0


def test_a_worker_killed_in_the_middle_of_a_backfill_batch(
    settings: Settings, clean_tables: None, tmp_path: Path
) -> None:
    ids = catalogue(240, settings)
    with pipeline(tmp_path) as running:
        running.worker("live", LIVE)
        running.beat()
        worker = running.worker("backfill", BACKFILL, concurrency=2)
        backfill(batch_size=16)
        wait_for(
            lambda: statuses(ids)["categorized"] >= 32 and statuses(ids)["processing"] > 0,
            120,
            "the backfill to be under way",
            interval=0.1,
        )
        # a child first: its parent sees it die and hands the job back (reject_on_worker_lost)
        os.kill(_children(worker.popen.pid)[0], signal.SIGKILL)
        wait_for(lambda: statuses(ids)["processing"] > 0, 30, "the backfill to go on", interval=0.1)
        # then the whole worker, parent and children: nothing gets to acknowledge or clean up
        running.kill("backfill")
        in_flight = statuses(ids)["processing"]
        assert 0 < statuses(ids)["categorized"] < len(ids)
        running.worker("backfill", BACKFILL, concurrency=2)
        outcome = end_state(ids, timeout=240)
    _done(
        outcome,
        "worker SIGKILLed mid-batch (a child, then the whole worker), restarted",
        settings,
        f"{in_flight} images were processing when it died",
    )


def test_the_whole_worker_pool_stopped_during_a_burst_of_uploads(
    settings: Settings, clean_tables: None, tmp_path: Path, auth: dict[str, str]
) -> None:
    with pipeline(tmp_path) as running:
        base = running.api()
        running.worker("live", LIVE)
        running.worker("backfill", BACKFILL)
        running.beat()
        with httpx.Client(base_url=base, timeout=30, headers=auth) as client:
            ids = [upload(client, illustration(i, seed=61)[0], f"burst {i}.png") for i in range(15)]
            wait_for(lambda: statuses(ids)["categorized"] >= 3, 60, "the pool to be at work", interval=0.1)
            running.stop("live")
            running.stop("backfill")
            ids += [upload(client, illustration(i, seed=61)[0], f"burst {i}.png") for i in range(15, 60)]
        wait_for(lambda: queue_depth(settings.redis_url) >= 45, 30, "the uploads to wait on the queue", interval=0.1)
        waiting = statuses(ids)["queued"]
        assert waiting >= 45
        running.worker("live", LIVE)
        running.worker("backfill", BACKFILL)
        outcome = end_state(ids)
    _done(
        outcome,
        "whole worker pool stopped during a burst of 60 uploads, started again",
        settings,
        f"45 uploads accepted (202) while no worker ran; {waiting} images waited on the queue",
    )


@pytest.mark.parametrize("persistent", [True, False], ids=["persistence-on", "persistence-off"])
def test_redis_restarted_with_jobs_queued_and_in_flight(
    settings: Settings, clean_tables: None, tmp_path: Path, persistent: bool
) -> None:
    redis_server = RedisServer(tmp_path, persistent)
    redis_server.start()
    env = {"STYLECAT_REDIS_URL": redis_server.url}
    ids = catalogue(200, settings)
    try:
        with pipeline(tmp_path, env) as running:
            running.worker("live", LIVE)
            running.worker("backfill", BACKFILL)
            running.beat()
            backfill(batch_size=8, env=env)
            wait_for(lambda: statuses(ids)["categorized"] >= 16, 120, "the backfill to be under way", interval=0.1)
            before = queue_depth(redis_server.url)
            redis_server.stop()
            time.sleep(3)
            redis_server.start()
            depth = queue_depth(redis_server.url)
            # Without persistence the queued jobs are gone; the sweeper may already have re-enqueued
            # a few batches of the images they named by the time the queues are read.
            assert (depth > 0) if persistent else (depth < before), (before, depth)
            outcome = end_state(ids, timeout=240)
    finally:
        redis_server.stop()
    how = "append-only file" if persistent else "no persistence: every queued job lost, the sweeper re-enqueued"
    _done(
        outcome,
        f"Redis restarted mid-backfill ({'persistence on' if persistent else 'persistence off'})",
        settings,
        f"{depth} jobs on the queues after the restart; {how}",
    )


def test_postgres_restarted_while_tasks_write(
    settings: Settings, clean_tables: None, tmp_path: Path, auth: dict[str, str]
) -> None:
    ids = catalogue(240, settings)
    with pipeline(tmp_path) as running:
        base = running.api()
        running.worker("live", LIVE)
        running.worker("backfill", BACKFILL, concurrency=2)
        running.beat()
        backfill(batch_size=8)
        wait_for(lambda: statuses(ids)["categorized"] >= 24, 120, "the backfill to be under way", interval=0.1)
        with service_down("postgres"), httpx.Client(base_url=base, timeout=30, headers=auth) as client:
            time.sleep(3)
            refused = client.post("/images", files={"file": ("x.png", illustration(0)[0])})
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "database_unavailable"
            assert refused.headers["retry-after"] == "5"
        outcome = end_state(ids, timeout=240)
    _done(
        outcome,
        "PostgreSQL restarted (fast shutdown, 3 s down) while tasks write",
        settings,
        "uploads meanwhile get 503 database_unavailable with Retry-After",
    )


def test_opensearch_down_during_categorization(settings: Settings, clean_tables: None, tmp_path: Path) -> None:
    ids = catalogue(160, settings)
    with pipeline(tmp_path) as running:
        base = running.api()
        running.worker("live", LIVE)
        running.worker("backfill", BACKFILL)
        running.beat()
        with service_down("opensearch"):
            backfill(batch_size=16)
            wait_for(lambda: statuses(ids)["categorized"] == len(ids), 180, "categorization without search")
            time.sleep(3)  # a few periodic index runs fail meanwhile
            search = httpx.get(f"{base}/search", timeout=30)
            assert search.status_code == 503 and search.json()["error"]["code"] == "search_unavailable"
        outcome = end_state(ids)  # no manual step: the periodic indexer catches up from the outbox
    _done(
        outcome,
        "OpenSearch stopped during categorization, started again",
        settings,
        "categorization went on; search answered 503 search_unavailable, then caught up from the outbox",
    )


def test_sagemaker_endpoint_failing_slow_and_away(
    settings: Settings, clean_tables: None, tmp_path: Path, auth: dict[str, str]
) -> None:
    model_port = free_port()
    model_server = Process(
        ["serve-model", "--port", str(model_port)], tmp_path / "model-server.log", {"STYLECAT_MODEL_THREADS": "1"}
    )
    upstream = f"http://127.0.0.1:{model_port}"
    try:
        wait_for(lambda: _ok(f"{upstream}/ping"), 90, f"the model server\n{model_server.tail()}")
        with (
            EndpointProxy(upstream) as proxy,
            pipeline(
                tmp_path, {**AWS, "STYLECAT_CLASSIFIER": "sagemaker", "STYLECAT_SAGEMAKER_ENDPOINT_URL": proxy.url}
            ) as running,
            httpx.Client(base_url=running.api(), timeout=30, headers=auth) as client,
        ):
            running.worker("live", LIVE)
            running.beat()
            ids = [upload(client, illustration(i, seed=3)[0], f"{i}.png") for i in range(4)]
            wait_for(lambda: settled(ids), 120, "the healthy endpoint to categorize")
            seen = []
            for mode in ("error", "throttle", "down"):
                proxy.mode, proxy.requests = mode, 0
                batch = [upload(client, illustration(i, seed=3)[0], f"{mode} {i}.png") for i in range(4, 8)]
                time.sleep(10)
                assert statuses(batch)["categorized"] == 0, mode
                requests = proxy.requests
                # 4 tasks, at most 2 botocore attempts per call and a backoff that doubles: a storm
                # would be hundreds in 10 s
                assert 4 <= requests <= 4 * 2 * 6, (mode, requests)
                proxy.mode = "pass"
                recovery = wait_for(lambda: settled(batch), 120, f"recovery after {mode}")  # noqa: B023
                seen.append(f"{mode}: {requests} requests in 10 s, recovered in {recovery:.1f} s")
                ids += batch
            proxy.delay = 3.0
            slow = [upload(client, illustration(i, seed=3)[0], f"slow {i}.png") for i in range(8, 12)]
            slow_seconds = wait_for(lambda: settled(slow), 120, "categorization through a slow endpoint")
            seen.append(f"slow (3 s per call): settled in {slow_seconds:.1f} s")
            outcome = end_state(ids + slow)
    finally:
        model_server.stop()
    _done(outcome, "SageMaker endpoint answering 503, throttling, unreachable, then slow", settings, "; ".join(seen))


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class _Drip(BaseHTTPRequestHandler):
    """An image that never finishes arriving: a byte every half second."""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        try:
            for byte in illustration(0)[0][:400]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.5)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def drip() -> Iterator[str]:
    with http_source(_Drip, "/slow.png") as url:
        yield url


@pytest.fixture
def unavailable() -> Iterator[str]:
    with http_source(Unavailable, "/busy.png") as url:
        yield url


def test_a_task_over_its_time_limit_is_failed_and_the_worker_keeps_serving(
    settings: Settings, clean_tables: None, tmp_path: Path, auth: dict[str, str], drip: str
) -> None:
    # the source is allowed and the fetch deadline is long, so only the task's time limit can stop it
    env = {"STYLECAT_ALLOW_PRIVATE_URLS": "true", "STYLECAT_FETCH_TIMEOUT": "300"}
    with pipeline(tmp_path, env) as running, httpx.Client(base_url=running.api(), timeout=30, headers=auth) as client:
        live = running.worker("live", LIVE)
        backfiller = running.worker("backfill", BACKFILL)
        running.beat()
        started = time.monotonic()
        response = client.post("/images/register", json={"source": drip})
        assert response.status_code == 202, response.text
        bad = response.json()["id"]
        good = upload(client, illustration(1)[0], "after.png")
        wait_for(lambda: settled([bad, good]), 60, "the slow image to be failed")
        timed_out = time.monotonic() - started

        # in a backfill batch the culprit is unknown: each image runs again alone, only it fails
        with session_scope() as session:
            culprit = image_row(session, drip)
        batch = [*catalogue(7, settings), culprit]
        enqueue_batch(batch, "backfill")
        after = upload(client, illustration(2)[0], "later.png")
        outcome = end_state(
            [bad, good, after, *batch], failed_codes={bad: "time_limit", culprit: "time_limit"}, timeout=120
        )
        assert live.popen.poll() is None and backfiller.popen.poll() is None, "the workers kept running"
    _done(
        outcome,
        "a task over its time limit (an image source dripping a byte every 0.5 s)",
        settings,
        f"failed with time_limit {timed_out:.1f} s after upload (soft limit 8 s); the healthy images of its "
        "backfill batch were categorized",
    )


def test_a_source_that_always_answers_503_fails_alone_and_holds_up_no_one(
    settings: Settings, clean_tables: None, tmp_path: Path, unavailable: str
) -> None:
    """Before: a transient fetch error handed the whole batch back uncounted, forever."""
    env = {"STYLECAT_ALLOW_PRIVATE_URLS": "true", "STYLECAT_MAX_TRANSIENT_FAILURES": "4"}
    with pipeline(tmp_path, env) as running:
        running.worker("backfill", BACKFILL)
        running.worker("live", LIVE)
        with session_scope() as session:
            away = image_row(session, unavailable)
        batch = [*catalogue(63, settings), away]
        started = time.monotonic()
        enqueue_batch(batch, "backfill")
        wait_for(lambda: statuses(batch[:-1])["categorized"] == 63, 120, "the 63 healthy images")
        healthy_done = time.monotonic() - started
        outcome = end_state(batch, failed_codes={away: "source_unavailable"}, timeout=120)
        failed_after = time.monotonic() - started
    _done(
        outcome,
        "a registered URL that always answers 503, batched with 63 healthy images",
        settings,
        f"the 63 were categorized in {healthy_done:.1f} s, on the first run; the URL alone was retried with "
        f"backoff and failed `source_unavailable` after its 4 transient failures, {failed_after:.1f} s in",
    )


class _Killer(BaseHTTPRequestHandler):
    """An image whose fetch kills the worker child that asks for it, as the out-of-memory killer
    would for an image that blows up in the decoder: every child of `worker_pid` gets SIGKILL."""

    worker_pid = 0
    requests = 0

    def do_GET(self) -> None:  # noqa: N802
        type(self).requests += 1
        for child in _children(self.worker_pid):
            os.kill(child, signal.SIGKILL)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("queue", ["backfill", "live"])
def test_an_image_that_kills_its_worker_fails_alone(
    settings: Settings, clean_tables: None, tmp_path: Path, queue: str
) -> None:
    """Before: each time the child died the whole batch came back and counted an attempt, until all
    of it ended `too_many_attempts`. Live, with celery-batches as it comes: the jobs of a batch whose
    child died stayed unacknowledged until the broker's visibility timeout (here 60 s, 3 h in
    production) each time; the batch's jobs are now handed back at once (recovery 111.8 s → 29 s)."""
    env = {"STYLECAT_ALLOW_PRIVATE_URLS": "true", "STYLECAT_MAX_ATTEMPTS": "3", "STYLECAT_LIVE_BATCH_WAIT_MS": "300"}
    with pipeline(tmp_path, env) as running, http_source(_Killer, "/poison.png") as poison:
        live = running.worker("live", LIVE)
        backfill = running.worker("backfill", BACKFILL)
        _Killer.worker_pid = (live if queue == "live" else backfill).popen.pid
        _Killer.requests = 0
        with session_scope() as session:
            culprit = image_row(session, poison)
        batch = [*catalogue(7, settings), culprit]
        wait_for(lambda: bool(_children(_Killer.worker_pid)), 60, f"the {queue} worker's child")
        if queue == "live":
            for image_id in batch:  # one job per image, as uploads send them
                enqueue(image_id, "live")
        else:
            enqueue_batch(batch, "backfill")
        outcome = end_state(batch, failed_codes={culprit: "too_many_attempts"}, timeout=180)
    visibility_timeout = float(FAULT_ENV["STYLECAT_BROKER_VISIBILITY_TIMEOUT"])
    assert outcome.recovery_seconds < visibility_timeout, "the killed batch's jobs waited for redelivery"
    _done(
        outcome,
        f"{queue}: an image whose fetch kills the worker child (as the out-of-memory killer would), in a batch of 8",
        settings,
        f"the child was killed {_Killer.requests} times; after the first, the batch ran image by image: the 7 "
        "healthy images were categorized and the culprit failed alone after its 3 attempts",
    )
