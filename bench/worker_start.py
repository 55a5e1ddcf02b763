"""A categorizing worker's cold start and footprint, as a node that scales workers out sees them.

Each run: one live upload's job waits in the queue; a live worker (concurrency 2) starts; the time
from process start until that image is categorized is the worker's cold start. Then a burst of
jobs reaches both children, and each process's memory is read from /proc/PID/smaps_rollup:

- RSS counts every resident page the process maps, the pages it shares with its parent and
  siblings included (a forked child starts with its parent's whole RSS);
- PSS divides each shared page among the processes that map it: the processes' PSS add up to
  what they hold together;
- USS (private pages) is what one more child adds to the node.

    .venv/bin/python -m bench.worker_start [--runs 3] [--burst 64]   (needs `stylecat stack up`)

Ends with one JSON line of figures (medians over the runs).
"""

import argparse
import json
import statistics
import time
from pathlib import Path

from bench.common import jpegs_800px
from bench.harness import bench_environment, descendants, processes, wait_for
from bench.pipeline import catalogue, catalogue_ids, categorized, requeue
from core.settings import get_settings

WORKER = ["worker", "--queues", "categorize.live,index", "--concurrency", "2", "--loglevel", "WARNING"]


def memory_mib(pid: int) -> dict[str, float]:
    """RSS, PSS and USS of one process, in MiB."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value)
    return {
        "rss": fields["Rss"] / 1024,
        "pss": fields["Pss"] / 1024,
        "uss": (fields["Private_Clean"] + fields["Private_Dirty"]) / 1024,
    }


def run(ids: list[int], burst: list[int]) -> dict[str, float]:
    from worker.dispatch import enqueue

    requeue([*ids, *burst])
    enqueue(ids[0], "live")
    env = {"STYLECAT_MODEL_THREADS": "1"}
    began = time.perf_counter()
    with processes([(WORKER, env)], get_settings().stack_dir / "bench" / "worker-start-logs") as (worker,):
        wait_for(lambda: categorized(ids[:1]) == 1, 120, "the first job", 0.01)
        first_job = time.perf_counter() - began
        for image_id in burst:
            enqueue(image_id, "live")
        wait_for(lambda: categorized(burst) == len(burst), 120, "the burst", 0.05)
        children = [memory_mib(pid) for pid in descendants(worker.pid)]
        parent = memory_mib(worker.pid)
    return {
        "first_job_s": first_job,
        "parent_rss_mib": parent["rss"],
        "child_rss_mib": max(c["rss"] for c in children),
        "child_pss_mib": max(c["pss"] for c in children),
        "child_uss_mib": max(c["uss"] for c in children),
        "children": len(children),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--burst", type=int, default=64)
    args = parser.parse_args()
    bench_environment()
    catalogue(args.runs + args.burst, jpegs_800px(16))
    ids = catalogue_ids(0, args.runs + args.burst)
    results = [run(ids[i : i + 1], ids[args.runs :]) for i in range(args.runs)]
    for index, result in enumerate(results):
        print(
            f"run {index + 1}: first job {result['first_job_s']:.2f} s; child RSS {result['child_rss_mib']:.0f}, "
            f"PSS {result['child_pss_mib']:.0f}, USS {result['child_uss_mib']:.0f} MiB; "
            f"parent RSS {result['parent_rss_mib']:.0f} MiB"
        )
    figures: dict[str, object] = {"bench": "worker_start", "runs": args.runs}
    for key in ("first_job_s", "child_rss_mib", "child_pss_mib", "child_uss_mib", "parent_rss_mib"):
        figures[key] = round(statistics.median(r[key] for r in results), 2 if key.endswith("_s") else 0)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
