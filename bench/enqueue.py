"""What sending a live upload's job costs the sender (the API, a host application): 2,000 jobs sent
one by one, as the API sends them, through Kombu's own Redis transport and through stylecat's
(`worker/broker.py`, which reuses one Redis client per channel), in turn, in one process, into a
scratch Redis database. Medians over rounds; ends with one JSON line.

    .venv/bin/python -m bench.enqueue [--jobs 2000] [--rounds 5]   (needs `stylecat stack up`)
"""

import argparse
import json
import statistics
import time

import redis
from kombu import Connection
from kombu.transport import redis as kombu_redis

from core.queues import CATEGORIZE_LIVE, Queue
from core.settings import get_settings
from worker import broker
from worker.app import app

SCRATCH_DB = 13


def send(transport: type, url: str, jobs: int) -> float:
    """Seconds to send `jobs` live jobs through a connection of `transport`."""
    with Connection(url, transport=transport) as connection:
        producer = connection.Producer()
        app.send_task(CATEGORIZE_LIVE, args=[[0]], queue=Queue.LIVE.value, producer=producer)  # connect
        started = time.perf_counter()
        for image_id in range(jobs):
            app.send_task(CATEGORIZE_LIVE, args=[[image_id]], queue=Queue.LIVE.value, producer=producer)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    url = get_settings().redis_url.rsplit("/", 1)[0] + f"/{SCRATCH_DB}"
    scratch = redis.Redis.from_url(url)
    seconds: dict[str, list[float]] = {"kombu": [], "stylecat": []}
    for _ in range(args.rounds):
        for name, transport in (("kombu", kombu_redis.Transport), ("stylecat", broker.Transport)):
            scratch.flushdb()
            seconds[name].append(send(transport, url, args.jobs))
            assert scratch.llen(Queue.LIVE.value) == args.jobs + 1, "a job went missing"
    scratch.flushdb()
    rates = {name: args.jobs / statistics.median(times) for name, times in seconds.items()}
    for name, rate in rates.items():
        print(
            f"{name:9s} transport: {rate:.0f} jobs/s ({1000 / rate:.3f} ms a job), rounds: "
            + " / ".join(f"{args.jobs / t:.0f}" for t in seconds[name])
        )
    print(
        json.dumps(
            {
                "bench": "enqueue",
                "jobs": args.jobs,
                "kombu_jobs_s": round(rates["kombu"]),
                "stylecat_jobs_s": round(rates["stylecat"]),
                "ratio": round(rates["stylecat"] / rates["kombu"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
