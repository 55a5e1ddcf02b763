"""The fault suite's tools: a pipeline of real processes with short fault timings, a catalogue of
known images, the end-state check (PostgreSQL and OpenSearch agree, nothing lost or duplicated),
and the report each scenario adds a row to (docs/reliability.md is written from it)."""

import hashlib
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import redis
from sqlalchemy import func, insert, select

from core.settings import Settings, get_settings
from db.models import Image, StylePrediction
from db.session import session_scope
from images.storage import store
from search.client import get_client
from tests.factories import illustration
from tests.processes import STYLECAT, Process, api_answers, free_port, wait_for
from worker.dispatch import depths

# Short enough that a scenario recovers in seconds: the sweeper runs every 2 s and takes images
# left behind for 20 s; tasks are told to stop after 8 s and killed after 15 s.
FAULT_ENV = {
    "STYLECAT_MODEL_THREADS": "1",
    "STYLECAT_TASK_SOFT_TIME_LIMIT": "8",
    "STYLECAT_TASK_TIME_LIMIT": "15",
    "STYLECAT_STALE_AFTER": "20",
    "STYLECAT_BROKER_VISIBILITY_TIMEOUT": "60",
    "STYLECAT_SWEEP_INTERVAL": "2",
    "STYLECAT_INDEX_INTERVAL": "2",
}
REPORT = "reliability.jsonl"


class Pipeline:
    """API, workers and beat as real processes, each startable, stoppable and killable by name."""

    def __init__(self, logs: Path, env: dict[str, str] | None = None) -> None:
        self.logs = logs
        self.env = {**FAULT_ENV, **(env or {})}
        self.processes: dict[str, Process] = {}
        self.base = ""
        self._starts: Counter[str] = Counter()

    def start(self, name: str, args: list[str]) -> Process:
        self._starts[name] += 1
        process = Process(args, self.logs / f"{name}-{self._starts[name]}.log", self.env)
        self.processes[name] = process
        return process

    def api(self) -> str:
        port = free_port()
        process = self.start("api", ["api", "--port", str(port)])
        self.base = f"http://127.0.0.1:{port}"
        wait_for(lambda: api_answers(self.base), 60, f"the API\n{process.tail()}")
        return self.base

    def worker(self, name: str, queues: str, concurrency: int = 1) -> Process:
        return self.start(name, ["worker", "--queues", queues, "--concurrency", str(concurrency), "--loglevel", "INFO"])

    def beat(self) -> Process:
        return self.start("beat", ["beat", "--loglevel", "INFO"])

    def stop(self, name: str) -> None:
        self.processes.pop(name).stop()

    def kill(self, name: str) -> None:
        """SIGKILL the process and every child: nothing gets to clean up or acknowledge."""
        process = self.processes.pop(name)
        os.killpg(process.popen.pid, signal.SIGKILL)
        process.popen.wait()
        process.stop()

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)


@contextmanager
def pipeline(logs: Path, env: dict[str, str] | None = None) -> Iterator[Pipeline]:
    subprocess.run([*STYLECAT, "model", "bootstrap"], check=True, capture_output=True)
    running = Pipeline(logs, env)
    try:
        yield running
    finally:
        running.stop_all()


def catalogue(n: int, settings: Settings, seed: int = 5150) -> list[int]:
    """`n` stored, never-categorized images (12 distinct illustrations in turn), as a backfill finds them."""
    refs = []
    for index in range(12):
        data, _ = illustration(index, seed=seed)
        refs.append(
            store(
                data,
                sha256=hashlib.sha256(data).hexdigest(),
                extension="png",
                content_type="image/png",
                settings=settings,
            )
        )
    with session_scope() as session:
        return list(
            session.scalars(
                insert(Image).returning(Image.id),
                [{"storage_ref": refs[i % len(refs)], "title": f"catalogue {i}"} for i in range(n)],
            )
        )


def backfill(batch_size: int, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        [*STYLECAT, "backfill", "--all", "--batch-size", str(batch_size)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr


def statuses(ids: list[int]) -> Counter[str]:
    with session_scope() as session:
        return Counter(session.scalars(select(Image.status).where(Image.id.in_(ids))))


def settled(ids: list[int]) -> bool:
    counts = statuses(ids)
    return counts["categorized"] + counts["failed"] == len(ids)


def queue_depth(redis_url: str) -> int:
    return sum(depths(redis.Redis.from_url(redis_url)).values())


@dataclass
class Outcome:
    scenario: str
    images_in: int
    categorized: int = 0
    failed_with_code: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    duplicates: int = 0
    recovery_seconds: float = 0.0
    notes: str = ""


def end_state(ids: list[int], *, failed_codes: dict[int, str] | None = None, timeout: float = 120) -> Outcome:
    """Wait until every image is settled and search agrees with PostgreSQL, then check the end state:
    every image categorized (or failed with its expected code), one prediction per categorized image,
    OpenSearch holding exactly the categorized images with the same style and model version."""
    failed_codes = failed_codes or {}
    started = time.monotonic()
    wait_for(lambda: settled(ids), timeout, f"every image settled: {dict(statuses(ids))}", interval=0.5)
    wait_for(lambda: _unindexed(ids) == 0, 60, "the indexer to catch up", interval=0.5)
    with session_scope() as session:
        rows = {row.id: row for row in session.scalars(select(Image).where(Image.id.in_(ids)))}
        predictions = Counter(
            session.scalars(select(StylePrediction.image_id).where(StylePrediction.image_id.in_(ids)))
        )
    categorized = {i for i, row in rows.items() if row.status == "categorized"}
    failed = {i: row.error_code for i, row in rows.items() if row.status == "failed"}
    assert failed == failed_codes, f"unexpected failures: {failed}"
    assert all(rows[i].style and rows[i].style_probs and rows[i].model_version for i in categorized)
    duplicates = sum(n - 1 for n in predictions.values() if n > 1)
    half_written = set(predictions) - categorized
    docs = _search_docs(get_settings())
    in_search = {i: doc for i, doc in docs.items() if doc["status"] == "categorized"}
    assert set(in_search) == categorized, (
        f"search and PostgreSQL disagree: {len(set(in_search) - categorized)} extra, "
        f"{len(categorized - set(in_search))} missing"
    )
    disagree = [
        i
        for i in categorized
        if (in_search[i]["style"], in_search[i]["model_version"]) != (rows[i].style, rows[i].model_version)
    ]
    assert not disagree, f"search shows another style or version for {disagree[:10]}"
    assert duplicates == 0 and not half_written, f"{duplicates} duplicate predictions, half-written: {half_written}"
    return Outcome(
        scenario="",
        images_in=len(ids),
        categorized=len(categorized),
        failed_with_code=dict(Counter(failed.values())),
        lost=len(ids) - len(categorized) - len(failed),
        duplicates=duplicates,
        recovery_seconds=round(time.monotonic() - started, 1),
    )


def _unindexed(ids: list[int]) -> int:
    with session_scope() as session:
        return (
            session.scalar(select(func.count()).where(Image.id.in_(ids), Image.indexed_version < Image.index_version))
            or 0
        )


def _search_docs(settings: Settings) -> dict[int, dict[str, object]]:
    client = get_client()
    client.indices.refresh(index=settings.opensearch_index)
    response = client.search(index=settings.opensearch_index, body={"query": {"match_all": {}}, "size": 10_000})
    return {int(hit["_id"]): hit["_source"] for hit in response["hits"]["hits"]}


def record(outcome: Outcome, settings: Settings) -> None:
    """Add the scenario's measured row to the run's report (`stack_dir/test/reliability.jsonl`)."""
    with (settings.stack_dir / "test" / REPORT).open("a") as report:
        report.write(json.dumps(asdict(outcome)) + "\n")


@contextmanager
def service_down(name: str) -> Iterator[None]:
    """Stop a server of the local stack and start it again afterwards, whatever happens (through
    the CLI, as an operator would: the server must not be a child of the test process)."""
    down = subprocess.run([*STYLECAT, "stack", "down", "--only", name], capture_output=True, text=True)
    assert f"{name}: stopped" in down.stdout, f"cannot inject the fault: {down.stdout}{down.stderr}"
    try:
        yield
    finally:
        up = subprocess.run([*STYLECAT, "stack", "up", "--only", name], capture_output=True, text=True)
        assert up.returncode == 0, up.stderr


def upload(client: httpx.Client, data: bytes, name: str) -> int:
    response = client.post("/images", files={"file": (name, data)})
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


class RedisServer:
    """A Redis of the scenario's own on a free port, with or without persistence (append-only file)."""

    def __init__(self, folder: Path, persistent: bool) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no", "--save", ""]
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.folder),
                "--maxmemory-policy",
                "noeviction",
                *self.persistence,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._answers, 15, "the scenario's Redis")

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """SIGTERM: Redis saves what its persistence setting says it keeps, and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
            self._log.close()


class EndpointProxy:
    """Stands between a client and an HTTP server (the inference server, OpenSearch) and misbehaves
    on demand, on POST requests: `error` (503),
    `throttle` (SageMaker's 400 ThrottlingException), `down` (connections closed unanswered),
    `slow` (answers after `delay` seconds). Counts the requests it gets, to show there is no storm."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.delay = 0.0
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self._answer(*proxy.forward("GET", self.path, b"", {}))

            def do_HEAD(self) -> None:  # noqa: N802
                status, _, _ = proxy.forward("HEAD", self.path, b"", {})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_PUT(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
                self._answer(*proxy.forward("PUT", self.path, body, headers))

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy.requests += 1
                if proxy.mode == "down":
                    self.close_connection = True
                    return
                if proxy.mode == "error":
                    self._answer(503, b'{"message": "injected 503"}', {})
                    return
                if proxy.mode == "throttle":
                    self._answer(400, b'{"message": "Rate exceeded"}', {"x-amzn-ErrorType": "ThrottlingException:"})
                    return
                time.sleep(proxy.delay)
                self._answer(*proxy.forward("POST", self.path, body, {"Content-Type": self.headers["Content-Type"]}))

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.client = httpx.Client(base_url=upstream, timeout=60)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def forward(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        response = self.client.request(method, path, content=body or None, headers=headers)
        return response.status_code, response.content, {}

    def __enter__(self) -> "EndpointProxy":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()
