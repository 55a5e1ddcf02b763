"""The project's inference server against MLflow's scoring server (`mlflow models serve`) on the
same registered model, side by side in one run:

- latency p50/p95 of one image per request (sequential requests);
- throughput with 16-image batches from 8 concurrent clients.

    .venv/bin/python -m bench.inference_servers [--single 60] [--batches 48]
"""

import argparse
import base64
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from bench.common import jpegs_800px
from bench.harness import processes, wait_for
from core.settings import get_settings

OURS, MLFLOW = 8781, 8782


def latency(url: str, inputs: list[str], n: int) -> tuple[float, float]:
    timings = []
    with httpx.Client(timeout=120) as client:
        for index in range(n + 3):
            began = time.perf_counter()
            response = client.post(url, json={"inputs": [inputs[index % len(inputs)]]})
            response.raise_for_status()
            if index >= 3:  # warm-up
                timings.append(time.perf_counter() - began)
    return statistics.median(timings), float(np.percentile(timings, 95))


def throughput(url: str, inputs: list[str], batches: int, clients: int = 8) -> float:
    batch = inputs[:16]

    def one(_: int) -> None:
        with httpx.Client(timeout=300) as client:
            client.post(url, json={"inputs": batch}).raise_for_status()

    one(0)
    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(batches)))
    return batches * 16 / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", type=int, default=60)
    parser.add_argument("--batches", type=int, default=48)
    args = parser.parse_args()
    settings = get_settings()
    inputs = [base64.b64encode(data).decode() for data in jpegs_800px(32)]
    specs = [
        (["serve-model", "--port", str(OURS)], {}),
        (
            [
                "mlflow",
                "models",
                "serve",
                "-m",
                settings.model_uri,
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(MLFLOW),
            ],
            # mlflow execs `uvicorn` from PATH: make it this environment's
            {
                "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
                "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            },
        ),
    ]
    with processes(specs, settings.stack_dir / "bench" / "logs-inference"):
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{OURS}/ping").status_code == 200, 120, "stylecat server")
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{MLFLOW}/ping").status_code == 200, 180, "mlflow server")
        servers = {
            "stylecat": f"http://127.0.0.1:{OURS}/invocations",
            "mlflow": f"http://127.0.0.1:{MLFLOW}/invocations",
        }
        results = {}
        for name, url in servers.items():
            p50, p95 = latency(url, inputs, args.single)
            results[name] = (p50, p95, throughput(url, inputs, args.batches))
    print(f"{'server':<10}{'p50 ms':>10}{'p95 ms':>10}{'img/s (16-image batches, 8 clients)':>40}")
    for name, (p50, p95, rate) in results.items():
        print(f"{name:<10}{p50 * 1000:>10.1f}{p95 * 1000:>10.1f}{rate:>40.1f}")
    ours, theirs = results["stylecat"], results["mlflow"]
    print(f"p50 latency: stylecat {theirs[0] / ours[0]:.1f}x lower; batch throughput: {ours[2] / theirs[2]:.1f}x")
    figures: dict[str, object] = {"bench": "inference_servers"}
    for name, (p50, p95, rate) in results.items():
        figures[name] = {"p50_ms": round(p50 * 1000, 1), "p95_ms": round(p95 * 1000, 1), "batch_img_s": round(rate, 1)}
    figures["p50_ratio"] = round(theirs[0] / ours[0], 2)
    figures["throughput_ratio"] = round(ours[2] / theirs[2], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
