"""Where a batch's time goes: cProfile over the worker's domain function (`categorize`, as a Celery
task runs it, in-process with the local model) and the indexer's pass that follows, on batches of
64 stored 800 px JPEGs. Prints the time per phase (cumulative wall time of the functions that own
it) and the functions with the most time of their own.

    .venv/bin/python -m bench.profile_batch [--batches 20] [--top 15]   (needs `stylecat stack up`)

Ends with one JSON line: each phase's share of the batch and ms per batch.
"""

import argparse
import cProfile
import json
import pstats
import time

from bench.common import jpegs_800px
from bench.harness import bench_environment
from bench.pipeline import catalogue, catalogue_ids
from core.allocator import keep_freed_memory

BATCH = 64
PHASES = {
    # phase: (module path suffix, function) pairs whose cumulative time is that phase's
    "claim (database)": [("db/writes.py", "claim"), ("worker/categorize.py", "_challenger_plan")],
    "fetch (store)": [("worker/categorize.py", "_fetch_all")],
    "decode + preprocess": [("model/predictor.py", "decode")],
    "forward": [("model/predictor.py", "predict_decoded")],
    "appearance statistics": [("model/preprocess.py", "appearance")],
    "write predictions (database)": [("db/writes.py", "record_predictions"), ("db/writes.py", "mark_failed")],
    "index (OpenSearch bulk)": [("search/indexer.py", "index_pending")],
}


def phase_seconds(stats: pstats.Stats) -> dict[str, float]:
    table = stats.stats  # type: ignore[attr-defined]
    found = {}
    for phase, owners in PHASES.items():
        found[phase] = sum(
            entry[3]
            for (path, _, name), entry in table.items()
            for suffix, function in owners
            if path.endswith(suffix) and name == function
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    bench_environment()
    catalogue(BATCH * (args.batches + 1), jpegs_800px(BATCH))
    ids = catalogue_ids(0, BATCH * (args.batches + 1))

    from core.settings import get_settings
    from db.session import session_scope
    from search.client import get_client
    from search.indexer import index_pending
    from worker.categorize import categorize
    from worker.local import LocalClassifier

    settings = get_settings()
    keep_freed_memory()
    classifier = LocalClassifier(settings, threads=2)
    client = get_client()

    def one(batch: list[int]) -> None:
        categorize(image_ids=batch, classifier=classifier, settings=settings, session_factory=session_scope)
        index_pending(session_factory=session_scope, client=client, alias=settings.opensearch_index)

    one(ids[:BATCH])  # loads the model and warms every path
    profile = cProfile.Profile()
    began = time.perf_counter()
    profile.enable()
    for n in range(1, args.batches + 1):
        one(ids[n * BATCH : (n + 1) * BATCH])
    profile.disable()
    total = time.perf_counter() - began
    stats = pstats.Stats(profile)
    phases = phase_seconds(stats)
    phases["other (commits, glue)"] = max(0.0, total - sum(phases.values()))
    print(f"{args.batches} batches of {BATCH}: {total / args.batches * 1000:.0f} ms a batch (under the profiler)")
    for phase, seconds in phases.items():
        print(f"  {phase:<30}{seconds / args.batches * 1000:>8.1f} ms  {seconds / total:>6.1%}")
    print(f"functions with the most time of their own (top {args.top}):")
    stats.sort_stats("tottime").print_stats(args.top)
    print(
        json.dumps(
            {
                "bench": "profile_batch",
                "batches": args.batches,
                "ms_per_batch": round(total / args.batches * 1000, 1),
                "phase_ms": {p: round(s / args.batches * 1000, 1) for p, s in phases.items()},
                "phase_share": {p: round(s / total, 3) for p, s in phases.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
