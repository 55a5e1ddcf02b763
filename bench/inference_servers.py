"""The project's inference server against MLflow's scoring server (`mlflow models serve`) on the
same registered model, in one run, one server at a time (so neither competes for the 2 cores):

- cold start: process start to the first `/ping` 200, the median of `--cold-runs` starts; ours
  both from the registry (as `stylecat serve-model` runs by default) and as the container starts
  (`python -m inference.entrypoint serve`, the logged model mounted as a folder as SageMaker
  mounts it at /opt/ml/model: no MLflow import);
- latency p50/p95 of one image per request (sequential requests);
- throughput of one-image requests from 16 concurrent clients (what live uploads look like);
- throughput with 16-image batches from 8 concurrent clients.

    .venv/bin/python -m bench.inference_servers [--single 60] [--concurrent 320] [--batches 48] [--cold-runs 3]

Ends with one JSON line of figures.
"""

import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
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


def concurrent_single(url: str, inputs: list[str], requests: int, clients: int = 16) -> float:
    """Kept-alive connections, as a client sending many requests would use."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    with httpx.Client(timeout=300, limits=limits) as client:

        def one(index: int) -> None:
            client.post(url, json={"inputs": [inputs[index % len(inputs)]]}).raise_for_status()

        one(0)
        began = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, range(requests)))
        return requests / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", type=int, default=60)
    parser.add_argument("--batches", type=int, default=48)
    parser.add_argument("--concurrent", type=int, default=320)
    parser.add_argument("--cold-runs", type=int, default=3)
    args = parser.parse_args()
    settings = get_settings()
    inputs = [base64.b64encode(data).decode() for data in jpegs_800px(32)]
    mlflow_serve = ["mlflow", "models", "serve", "-m", settings.model_uri, "--env-manager", "local"]
    servers = {
        "ours": (["serve-model", "--port", str(OURS)], {}, OURS),
        # the same server with cross-request batching off: what the batching itself is worth
        "ours_unbatched": (["serve-model", "--port", str(OURS)], {"STYLECAT_INFERENCE_MAX_BATCH": "1"}, OURS),
        "mlflow": (
            [*mlflow_serve, "-h", "127.0.0.1", "-p", str(MLFLOW)],
            # mlflow execs `uvicorn` from PATH: make it this environment's
            {
                "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
                "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            },
            MLFLOW,
        ),
    }
    figures: dict[str, object] = {"bench": "inference_servers"}
    with tempfile.TemporaryDirectory() as folder:
        logged = download_logged_model(settings.model_uri, Path(folder))
        starts = {
            "ours": servers["ours"],
            # as SageMaker starts the container: its entrypoint, the model mounted as a folder
            "ours_folder": (
                ["inference.entrypoint", "serve"],
                {"STYLECAT_INFERENCE_MODEL_DIR": str(logged), "PORT": str(OURS)},
                OURS,
            ),
            "mlflow": servers["mlflow"],
        }
        for name, (command, env, port) in starts.items():
            figures[f"{name}_cold_start_s"] = round(
                statistics.median(cold_start(name, command, env, port) for _ in range(args.cold_runs)), 2
            )
    for name, (command, env, port) in servers.items():
        base = f"http://127.0.0.1:{port}"
        with processes([(command, env)], settings.stack_dir / "bench" / f"logs-inference-{name}"):
            wait_for(lambda base=base: _pings(base), 240, f"{name} server", interval=0.05)
            p50, p95 = latency(f"{base}/invocations", inputs, args.single)
            figures[f"{name}_p50_ms"], figures[f"{name}_p95_ms"] = round(p50 * 1000, 1), round(p95 * 1000, 1)
            rate = concurrent_single(f"{base}/invocations", inputs, args.concurrent)
            figures[f"{name}_img_s_concurrent_single"] = round(rate, 1)
            figures[f"{name}_img_s_batch16"] = round(throughput(f"{base}/invocations", inputs, args.batches), 1)
            if name.startswith("ours"):
                figures[f"{name}_batching"] = httpx.get(f"{base}/ping").json().get("batching")
    print(f"{'':<34}{'ours':>10}{'unbatched':>10}{'mlflow':>10}{'ours/mlflow':>12}")
    print(f"{'cold start s, container entrypoint':<34}{figures['ours_folder_cold_start_s']:>10}")
    for label, key, higher_is_better in (
        ("cold start s", "cold_start_s", False),
        ("p50 ms, one image", "p50_ms", False),
        ("img/s, 16 clients x 1 image", "img_s_concurrent_single", True),
        ("img/s, 8 clients x 16 images", "img_s_batch16", True),
    ):
        names = ("ours", "ours_unbatched", "mlflow")
        ours, unbatched, theirs = (float(figures.get(f"{n}_{key}", "nan")) for n in names)  # type: ignore[arg-type]
        ratio = ours / theirs if higher_is_better else theirs / ours
        print(f"{label:<34}{ours:>10.1f}{unbatched:>10.1f}{theirs:>10.1f}{ratio:>11.2f}x")
    print(json.dumps(figures))


def download_logged_model(uri: str, into: Path) -> Path:
    """The registered model's logged folder, as a deployment ships it."""
    import mlflow

    from model import registry

    registry.configure(get_settings())
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(into)))


def cold_start(name: str, command: list[str], env: dict[str, str], port: int) -> float:
    """Seconds from process start to the first `/ping` 200."""
    base = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    with processes([(command, env)], get_settings().stack_dir / "bench" / f"logs-cold-{name}"):
        wait_for(lambda: _pings(base), 240, f"{name} server", interval=0.05)
        return time.perf_counter() - began


def _pings(base: str) -> bool:
    try:
        return httpx.get(f"{base}/ping", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
