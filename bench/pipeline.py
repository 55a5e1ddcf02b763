"""End-to-end pipeline figures, measured side by side in one run on this machine:

1. raw model throughput: decode + preprocess + forward at batch 64 (2 model threads), median of 15;
2. backfill throughput over N images: enqueue → categorized → indexed, with a backfill worker
   (concurrency 2, 1 model thread each) and a live worker (live + index queues, concurrency 2, 1 model thread each);
   the catalogue is indexed before the clock starts, as an existing one is, and the backfill is
   enqueued from this process (what `stylecat backfill --batch-size 64` sends, without its start);
3. a burst of N live uploads' jobs (one per image, as the API sends them): enqueue → categorized →
   indexed, on the live worker;
4. upload → searchable latency p50/p95 of single uploads while a longer backfill runs, with the
   indexer's debounce as it was (0.25 s) and at its default, one after the other.

    .venv/bin/python -m bench.pipeline [--images 2000] [--uploads 20]   (needs `stylecat stack up`)
"""

import argparse
import hashlib
import json
import statistics
import subprocess
import time
import uuid

import httpx
import numpy as np
import redis
from sqlalchemy import func, insert, select, update

from bench.common import jpegs_800px, median_seconds
from bench.harness import STYLECAT, bench_environment, processes, wait_for, wait_for_children
from core.allocator import keep_freed_memory
from core.settings import Settings
from producer.apikeys import issue_key


def raw_throughput(images: list[bytes]) -> float:
    from model.predictor import StylePredictor
    from model.registry import CHAMPION_DIR

    keep_freed_memory()
    predictor = StylePredictor.load(CHAMPION_DIR, threads=2)
    batch = images[:64]
    return 64 / median_seconds(lambda: predictor.predict(batch), repeats=15)


def catalogue(n: int, images: list[bytes], settings: Settings | None = None) -> list[int]:
    """`n` never-categorized rows over the sample images, stored in the configured store (or the one
    `settings` name), indexed, as an existing catalogue would be: a run's clock then counts only the
    work it times, not the catalogue's first indexing. Their ids, in order."""
    from core.settings import get_settings
    from db.models import Image
    from db.session import session_scope
    from images.storage import store
    from search.client import get_client
    from search.indexer import index_pending

    refs = []
    for data in images:
        digest = hashlib.sha256(data).hexdigest()
        refs.append(store(data, sha256=digest, extension="jpg", content_type="image/jpeg", settings=settings))
    with session_scope() as session:
        ids = list(
            session.scalars(
                insert(Image).returning(Image.id, sort_by_parameter_order=True),
                [{"storage_ref": refs[i % len(refs)], "title": f"catalogue {i}"} for i in range(n)],
            )
        )
    index_pending(session_factory=session_scope, client=get_client(), alias=get_settings().opensearch_index)
    return ids


def catalogue_ids(first: int, n: int) -> list[int]:
    """The ids of `n` catalogue rows from the `first`th on, in id order."""
    from db.models import Image
    from db.session import session_scope

    with session_scope() as session:
        return list(session.scalars(select(Image.id).order_by(Image.id).offset(first).limit(n)))


def categorized(ids: list[int], *, indexed: bool = False) -> int:
    """How many of `ids` are categorized (and, with `indexed`, indexed as they now are)."""
    from db.models import Image
    from db.session import session_scope

    done = [Image.id.in_(ids), Image.status == "categorized"]
    if indexed:
        done.append(Image.indexed_version == Image.index_version)
    with session_scope() as session:
        return session.scalar(select(func.count()).where(*done)) or 0


def requeue(ids: list[int]) -> None:
    """Make `ids` never-categorized again, so a benchmark can run them twice."""
    from db.models import Image
    from db.session import session_scope

    with session_scope() as session:
        session.execute(
            update(Image)
            .where(Image.id.in_(ids))
            .values(status="queued", attempts=0, model_version=None, predicted_at=None)
        )


def enqueue_backfill() -> int:
    """What `stylecat backfill --batch-size 64` enqueues, from this process: the clock then times
    the pipeline, not a new interpreter's start (about 1 s)."""
    from db.session import session_scope
    from producer.backfill import Criteria, backfill
    from worker.dispatch import enqueue_batch

    send = lambda ids: enqueue_batch(ids, "backfill")  # noqa: E731
    return backfill(session_factory=session_scope, criteria=Criteria(), batch_size=64, send=send)


def backfill_worker(env: dict[str, str] | None = None, concurrency: int = 2) -> tuple[list[str], dict[str, str]]:
    args = ["worker", "--queues", "categorize.backfill", "--concurrency", str(concurrency), "--loglevel", "INFO"]
    return args, {"STYLECAT_MODEL_THREADS": "1", **(env or {})}


def upload_latencies(client: httpx.Client, images: list[bytes], n: int) -> tuple[float, float]:
    """p50 and p95 seconds from upload to searchable, one upload at a time."""
    latencies = []
    for index in range(n):
        token = uuid.uuid4().hex
        began = time.perf_counter()
        response = client.post(
            "/images", files={"file": ("upload.jpg", images[index % len(images)])}, data={"title": f"{token} upload"}
        )
        assert response.status_code == 202, response.text
        found = lambda token=token: client.get("/search", params={"q": token}).json()["total"] == 1  # noqa: E731
        wait_for(found, 60, "searchable", 0.02)
        latencies.append(time.perf_counter() - began)
    return statistics.median(latencies), float(np.percentile(latencies, 95))


def _max_id() -> int:
    from db.models import Image
    from db.session import session_scope

    with session_scope() as session:
        return session.scalar(select(func.max(Image.id))) or 0


def counts() -> tuple[int, int]:
    from db.models import Image
    from db.session import session_scope

    with session_scope() as session:
        done = session.scalar(select(func.count()).where(Image.status == "categorized")) or 0
        indexed = (
            session.scalar(
                select(func.count()).where(Image.status == "categorized", Image.indexed_version == Image.index_version)
            )
            or 0
        )
    return done, indexed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--uploads", type=int, default=20)
    args = parser.parse_args()
    images = jpegs_800px(64)
    raw = raw_throughput(images)
    print(f"raw model throughput (decode+preprocess+forward, batch 64): {raw:.1f} img/s")

    env = bench_environment()
    subprocess.run([*STYLECAT, "model", "bootstrap"], check=True, capture_output=True)
    catalogue(args.images, images)
    from core.settings import get_settings

    settings = get_settings()
    threads = {"STYLECAT_MODEL_THREADS": "1"}
    logs = settings.stack_dir / "bench" / "logs"
    specs = [
        (["api", "--port", "8765"], {}),
        (["worker", "--queues", "categorize.live,index", "--concurrency", "2", "--loglevel", "INFO"], threads),
    ]
    client = httpx.Client(
        base_url="http://127.0.0.1:8765", timeout=30, headers={"Authorization": f"Bearer {issue_key('bench')}"}
    )
    queue = redis.Redis.from_url(env["STYLECAT_REDIS_URL"])
    with processes(specs, logs), processes([backfill_worker()], logs / "backfill-default"):
        wait_for(lambda: client.get("/health").status_code == 200, 60, "the API")
        wait_for_children(logs / "1-worker.log", 2)
        wait_for_children(logs / "backfill-default" / "0-worker.log", 2)
        started = time.perf_counter()
        enqueue_backfill()
        wait_for(lambda: counts()[1] >= args.images, 1800, "every image categorized and indexed", 0.2)
        seconds = time.perf_counter() - started
        e2e = args.images / seconds
        print(
            f"end-to-end backfill of {args.images} (enqueue → categorized → indexed): {seconds:.1f} s, "
            f"{e2e:.1f} img/s; ratio to raw model throughput {e2e / raw:.2f}"
        )

        from worker.dispatch import enqueue

        first = _max_id()
        catalogue(args.images, images)
        started = time.perf_counter()
        for image_id in range(first + 1, first + args.images + 1):
            enqueue(image_id, "live")
        wait_for(lambda: counts()[1] >= 2 * args.images, 1800, "the live burst categorized and indexed", 0.2)
        live = args.images / (time.perf_counter() - started)
        print(
            f"burst of {args.images} live uploads (enqueue → categorized → indexed): {live:.1f} img/s, "
            f"{live / e2e:.2f} of the backfill rate"
        )

    # single uploads while a long backfill runs: the indexer's debounce as it was (0.25 s), then as it is
    latency = {}
    with processes(specs[:1], logs):
        wait_for(lambda: client.get("/health").status_code == 200, 60, "the API")
        for debounce in ("0.25", str(settings.index_debounce)):
            queue.delete("categorize.backfill")
            catalogue(5 * args.images, images)
            env = {"STYLECAT_INDEX_DEBOUNCE": debounce}
            workers = [(specs[1][0], {**specs[1][1], **env}), backfill_worker(env)]
            with processes(workers, logs / f"debounce-{debounce}"):
                for index in range(2):
                    wait_for_children(logs / f"debounce-{debounce}" / f"{index}-worker.log", 2)
                subprocess.run([*STYLECAT, "backfill", "--batch-size", "64"], check=True, capture_output=True)
                latency[debounce] = upload_latencies(client, images, args.uploads)
                backlog = queue.llen("categorize.backfill")
            p50, p95 = latency[debounce]
            print(
                f"upload → searchable during a backfill, index debounce {debounce} s ({args.uploads} uploads, "
                f"backfill queue still {backlog} batches): p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
            )
    p50, p95 = latency[str(settings.index_debounce)]
    figures = {
        "bench": "pipeline",
        "images": args.images,
        "raw_img_s": round(raw, 1),
        "backfill_img_s": round(e2e, 1),
        "e2e_over_raw": round(e2e / raw, 2),
        "live_burst_img_s": round(live, 1),
        "live_over_backfill": round(live / e2e, 2),
        "upload_to_searchable_p50_s": round(p50, 3),
        "upload_to_searchable_p95_s": round(p95, 3),
        "upload_to_searchable_debounce_0_25_p50_s": round(latency["0.25"][0], 3),
        "upload_to_searchable_debounce_0_25_p95_s": round(latency["0.25"][1], 3),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
