"""A backfill from the S3-compatible store with latency added to every request, against the same
backfill from the local store, in one run (#13 item 4).

The stack's S3Proxy answers in about a millisecond on loopback, so a proxy in a process of its own
(`bench/delay_proxy.py`) holds every request `--latency-ms` before passing it on: each GET on a
kept-alive connection then waits that long, as from a store across a network (plain HTTP; opening
a connection is not delayed). The same workers run both: a backfill worker (`--concurrency` children, 2 as in
`bench.pipeline`, 1 model thread each) and a live worker that also indexes. The catalogue is stored
twice, once in each store, and indexed before any clock starts; 256 images from each store warm
the children's connections and the store first. Each round then backfills both copies, one after
the other (the order alternates), enqueue → categorized → indexed, and counts the CPU time the
backfill worker, S3Proxy and the delaying proxy used per image: all three share this machine's cores.

Before that, one batch's fetch alone through the proxy: one image after another, and
`STYLECAT_FETCH_CONCURRENCY` at once.

    .venv/bin/python -m bench.remote_store [--images 2000] [--latency-ms 20] [--rounds 3] [--concurrency 2]

Ends with one JSON line of figures.
"""

import argparse
import json
import statistics
import subprocess
import time

from bench.common import jpegs_800px, median_seconds
from bench.delay_proxy import delaying_proxy
from bench.harness import (
    STYLECAT,
    bench_environment,
    cpu_seconds,
    descendants,
    find_processes,
    processes,
    wait_for,
    wait_for_children,
)
from bench.pipeline import backfill_worker, catalogue, categorized, requeue
from core.settings import get_settings
from images.storage import ensure_store

BUCKET = "stylecat-bench"


def backfill_rate(ids: list[int]) -> float:
    """Images a second: every id enqueued as the backfill sends them (64 a job) → categorized and indexed."""
    from worker.dispatch import enqueue_batch  # after `bench_environment`: the app's broker is the benchmark's

    requeue(ids)
    started = time.perf_counter()
    for first in range(0, len(ids), 64):
        enqueue_batch(ids[first : first + 64], "backfill")
    wait_for(lambda: categorized(ids, indexed=True) == len(ids), 1800, "the backfill categorized and indexed", 0.2)
    return len(ids) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2, help="the backfill worker's children")
    args = parser.parse_args()
    bench_environment()
    base = get_settings()
    assert base.s3_endpoint_url, 'run against the stack: eval "$(stylecat stack env)"'
    subprocess.run([*STYLECAT, "model", "bootstrap"], check=True, capture_output=True)
    s3 = base.model_copy(update={"storage": "s3", "s3_bucket": BUCKET})
    ensure_store(s3)
    images = jpegs_800px(64)
    from worker.categorize import _fetch_all

    local = base.model_copy(update={"storage": "local"})
    ids = {"local": catalogue(args.images, images, local), "s3": catalogue(args.images, images, s3)}
    figures: dict[str, object] = {
        "bench": "remote_store",
        "images": args.images,
        "latency_ms": args.latency_ms,
        "backfill_concurrency": args.concurrency,
        "fetch_concurrency": base.fetch_concurrency,
    }

    with delaying_proxy(base.s3_endpoint_url, args.latency_ms) as (slow, proxy_pid):
        batch = list(enumerate(_refs(ids["s3"][:64])))
        for name, concurrency in (("sequential", 1), ("concurrent", base.fetch_concurrency)):
            remote = s3.model_copy(update={"s3_endpoint_url": slow, "fetch_concurrency": concurrency})
            seconds = median_seconds(lambda r=remote: _fetch_all(batch, r), repeats=5)
            figures[f"fetch_64_{name}_ms"] = round(seconds * 1000, 1)
            print(f"fetching 64 images through the delay, {concurrency} at once: {seconds * 1000:.0f} ms")

        logs = base.stack_dir / "bench" / "logs" / "remote-store"
        backfill = backfill_worker({"STYLECAT_S3_ENDPOINT_URL": slow, "STYLECAT_S3_BUCKET": BUCKET}, args.concurrency)
        live = (
            ["worker", "--queues", "categorize.live,index", "--concurrency", "2", "--loglevel", "INFO"],
            {"STYLECAT_MODEL_THREADS": "1"},
        )
        rates: dict[str, list[float]] = {"local": [], "s3": []}
        cpu: dict[str, list[dict[str, float]]] = {"local": [], "s3": []}
        with processes([backfill, live], logs) as (worker, _):
            wait_for_children(logs / "0-worker.log", args.concurrency)
            wait_for_children(logs / "1-worker.log", 2)
            assert find_processes("s3proxy"), "the stack's S3Proxy is not running here"
            counted = {
                "worker": lambda: [worker.pid, *descendants(worker.pid)],
                "s3proxy": lambda: find_processes("s3proxy"),
                "delay": lambda: [proxy_pid],
            }
            for store in ("local", "s3"):  # warm: the children's connections, the store's JIT
                backfill_rate(ids[store][:256])
            for round_ in range(args.rounds):
                for store in ("local", "s3") if round_ % 2 == 0 else ("s3", "local"):
                    before = {name: cpu_seconds(pids()) for name, pids in counted.items()}
                    rates[store].append(backfill_rate(ids[store]))
                    used = {
                        name: (cpu_seconds(pids()) - before[name]) * 1000 / args.images
                        for name, pids in counted.items()
                    }
                    cpu[store].append(used)
                    print(
                        f"round {round_ + 1}, backfill from the {store} store: {rates[store][-1]:.1f} img/s; "
                        "CPU ms an image: " + ", ".join(f"{name} {ms:.2f}" for name, ms in used.items())
                    )
    ratios = [remote / local for remote, local in zip(rates["s3"], rates["local"], strict=True)]
    for store in ("local", "s3"):
        figures[f"{store}_img_s"] = [round(rate, 1) for rate in rates[store]]
        for name in ("worker", "s3proxy", "delay"):
            figures[f"{store}_{name}_cpu_ms_per_image"] = round(statistics.median(u[name] for u in cpu[store]), 2)
    figures |= {
        "s3_over_local": [round(ratio, 2) for ratio in ratios],
        "s3_over_local_median": round(statistics.median(ratios), 2),
    }
    print(f"backfill from S3 behind {args.latency_ms:.0f} ms over the local store: {statistics.median(ratios):.2f}")
    print(json.dumps(figures))


def _refs(ids: list[int]) -> list[str]:
    from sqlalchemy import select

    from db.models import Image
    from db.session import session_scope

    with session_scope() as session:
        found = session.execute(select(Image.id, Image.storage_ref).where(Image.id.in_(ids)))
        rows = {row.id: row.storage_ref for row in found}
    return [rows[image_id] for image_id in ids]


if __name__ == "__main__":
    main()
