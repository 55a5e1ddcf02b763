"""Load test: a burst of uploads at the highest rate the API sustains, with search queries running
concurrently, against real API and worker processes on loopback. Bounded in count and time.

Reports uploads/s accepted, errors, queue depth over time, time until every upload is searchable,
search p50/p95/p99 under that load, and the resident memory of every worker process over the run.

    .venv/bin/python -m bench.load [--uploads 5000] [--concurrency 16] [--searchers 2]   (needs `stylecat stack up`)
"""

import argparse
import asyncio
import io
import json
import random
import time
from pathlib import Path

import httpx
import numpy as np
import redis

from bench.harness import bench_environment, descendants, processes, wait_for
from core.queues import Queue
from core.styles import STYLES
from model import synthetic
from producer.apikeys import issue_key

API = "http://127.0.0.1:8766"
DEADLINE = 1200  # seconds: the whole run stops by then, whatever happens


def samples(n: int = 64, seed: int = 4711) -> list[bytes]:
    """Generated illustrations at 256 px, PNG or JPEG as the generator encodes them."""
    out = []
    for index in range(n):
        image, _ = synthetic.sample(index, seed)
        image.thumbnail((256, 256))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG" if index % 2 else "PNG", quality=90)
        out.append(buffer.getvalue())
    return out


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def upload_burst(
    client: httpx.AsyncClient, images: list[bytes], n: int, concurrency: int
) -> tuple[list[int], dict[str, int], float]:
    accepted: list[int] = []
    errors: dict[str, int] = {}
    counter = iter(range(n))

    async def one_client() -> None:
        for index in counter:
            try:
                response = await client.post(
                    "/images",
                    files={"file": ("load.img", images[index % len(images)])},
                    data={"title": f"load {index}"},
                )
                if response.status_code == 202:
                    accepted.append(response.json()["id"])
                    continue
                key = str(response.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            errors[key] = errors.get(key, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return accepted, errors, time.perf_counter() - started


async def search_load(
    client: httpx.AsyncClient, stop: asyncio.Event, latencies: list[float], errors: list[int]
) -> None:
    rng = random.Random(7)
    while not stop.is_set():
        params: dict[str, object] = {"style": rng.sample(STYLES, rng.randint(1, 2)), "size": 20}
        if rng.random() < 0.3:
            params["q"] = f"load {rng.randint(0, 5000)}"
        began = time.perf_counter()
        response = await client.get("/search", params=params)
        latencies.append(time.perf_counter() - began)
        if response.status_code != 200:
            errors.append(response.status_code)


async def sample_resources(
    stop: asyncio.Event,
    queue: redis.Redis,
    workers: list[int],
    started: float,
    depth: list[tuple[float, int]],
    rss: dict[int, list[float]],
) -> None:
    while not stop.is_set():
        depth.append((round(time.perf_counter() - started, 1), int(queue.llen(Queue.LIVE.value))))
        for root in workers:
            for pid in [root, *descendants(root)]:
                rss.setdefault(pid, []).append(_rss_mib(pid))
        await asyncio.sleep(1)


async def run(args: argparse.Namespace, workers: list[int], key: str, redis_url: str) -> dict[str, object]:
    images = samples()
    queue = redis.Redis.from_url(redis_url)
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=args.concurrency + args.searchers + 2)
    async with httpx.AsyncClient(base_url=API, timeout=60, headers=headers, limits=limits) as client:
        stop = asyncio.Event()
        latencies: list[float] = []
        search_errors: list[int] = []
        depth: list[tuple[float, int]] = []
        rss: dict[int, list[float]] = {}
        started = time.perf_counter()
        background = [
            asyncio.create_task(search_load(client, stop, latencies, search_errors)) for _ in range(args.searchers)
        ]
        background.append(asyncio.create_task(sample_resources(stop, queue, workers, started, depth, rss)))
        accepted, upload_errors, upload_seconds = await upload_burst(client, images, args.uploads, args.concurrency)
        while time.perf_counter() - started < DEADLINE:
            total = (await client.get("/search", params={"size": 1, "q": "load"})).json()["total"]
            if total >= len(accepted):
                break
            await asyncio.sleep(0.5)
        searchable = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*background)
    ms = np.array(latencies) * 1000
    return {
        "uploads": args.uploads,
        "accepted": len(accepted),
        "upload_errors": upload_errors,
        "uploads_per_s": round(len(accepted) / upload_seconds, 1),
        "upload_seconds": round(upload_seconds, 1),
        "all_searchable_after_s": round(searchable, 1),
        "search_requests": len(latencies),
        "search_errors": len(search_errors),
        "search_ms": {p: round(float(np.percentile(ms, q)), 1) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))},
        "queue_depth_peak": max(d for _, d in depth),
        "queue_depth_every_10s": depth[::10],
        "worker_rss_mib": {
            str(pid): {"first": round(v[0]), "peak": round(max(v)), "last": round(v[-1])}
            for pid, v in rss.items()
            if max(v) > 0
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent upload clients")
    parser.add_argument("--searchers", type=int, default=2, help="concurrent search clients")
    args = parser.parse_args()
    env = bench_environment()
    key = issue_key("bench")
    from core.settings import get_settings

    threads = {"STYLECAT_MODEL_THREADS": "1"}
    specs = [
        (["api", "--port", API.rsplit(":", 1)[1], "--workers", "2"], {}),
        (["worker", "--queues", "categorize.live,index", "--concurrency", "2", "--loglevel", "WARNING"], threads),
    ]
    with processes(specs, get_settings().stack_dir / "bench" / "load-logs") as started:
        wait_for(lambda: httpx.get(f"{API}/health", timeout=2).status_code == 200, 60, "the API")
        time.sleep(10)  # the worker children load the model
        report = asyncio.run(run(args, [started[1].pid], key, env["STYLECAT_REDIS_URL"]))
    print(json.dumps(report))  # one line: the figures


if __name__ == "__main__":
    main()
