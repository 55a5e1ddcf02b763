"""Live micro-batching, side by side in one run: the live worker with batches of one (each upload
its own forward pass and transaction, as before) and with the default batch size and deadline.

For each setting, a live worker (the live and index queues, concurrency 2, 1 model thread each):

1. burst: N uploads' jobs (one per image, as the API sends them) enqueued at once; live img/s from
   the first job sent until all are categorized, median over the repeats;
2. lone uploads on the idle worker: job sent → image categorized, p50 and max.

    .venv/bin/python -m bench.live_batching [--images 1000] [--repeats 3] [--lone 20]   (needs `stylecat stack up`)
"""

import argparse
import json
import statistics
import time

from bench.common import jpegs_800px
from bench.harness import bench_environment, processes, wait_for
from bench.pipeline import catalogue, catalogue_ids, categorized, requeue
from core.settings import get_settings

SETTINGS = {"batch of 1": {"STYLECAT_LIVE_BATCH_SIZE": "1"}, "batched (defaults)": {}}


def measure(name: str, env: dict[str, str], ids: list[int], repeats: int, lone: int) -> dict[str, float]:
    from worker.dispatch import enqueue

    threads = {"STYLECAT_MODEL_THREADS": "1", **env}
    spec = (["worker", "--queues", "categorize.live,index", "--concurrency", "2", "--loglevel", "WARNING"], threads)
    with processes([spec], get_settings().stack_dir / "bench" / "live-logs" / name.split()[0]):
        warm = ids[-2:]  # the children load the model as they start; a first job each
        for image_id in warm:
            enqueue(image_id, "live")
        wait_for(lambda: categorized(warm) == 2, 120, "the warm-up uploads", 0.1)
        burst = ids[: -2 - lone]
        rates = []
        for _ in range(repeats):
            requeue(burst)
            started = time.perf_counter()
            for image_id in burst:
                enqueue(image_id, "live")
            wait_for(lambda: categorized(burst) == len(burst), 600, "the burst", 0.05)
            rates.append(len(burst) / (time.perf_counter() - started))
        seconds = []
        for image_id in ids[-2 - lone : -2]:
            time.sleep(0.3)  # idle
            started = time.perf_counter()
            enqueue(image_id, "live")
            wait_for(lambda image_id=image_id: categorized([image_id]) == 1, 30, "a lone upload", 0.002)
            seconds.append(time.perf_counter() - started)
    figures = {
        "burst_img_s": round(statistics.median(rates), 1),
        "lone_p50_ms": round(statistics.median(seconds) * 1000, 1),
        "lone_max_ms": round(max(seconds) * 1000, 1),
    }
    print(
        f"{name}: burst of {len(burst)} {figures['burst_img_s']} img/s (median of {repeats}); lone upload "
        f"p50 {figures['lone_p50_ms']} ms, max {figures['lone_max_ms']} ms"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lone", type=int, default=20)
    args = parser.parse_args()
    bench_environment()
    catalogue(args.images + args.lone + 2, jpegs_800px(64))
    ids = catalogue_ids(0, args.images + args.lone + 2)
    settings = get_settings()
    results = {}
    for name, env in SETTINGS.items():
        if name != "batch of 1":
            requeue(ids)
        results[name] = measure(name, env, ids, args.repeats, args.lone)
    one, batched = results["batch of 1"], results["batched (defaults)"]
    figures = {
        "bench": "live_batching",
        "images": args.images,
        "live_batch_size": settings.live_batch_size,
        "live_batch_wait_ms": settings.live_batch_wait_ms,
        "batch_of_1": one,
        "batched": batched,
        "burst_ratio": round(batched["burst_img_s"] / one["burst_img_s"], 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
