"""Prometheus metrics of a worker, summed over its prefork children (prometheus_client's
multiprocess mode). `stylecat worker --metrics-port N` points PROMETHEUS_MULTIPROC_DIR at a fresh
folder before anything imports prometheus_client; the children write their samples there and the
parent serves them at `http://<host>:N/metrics`. Without a port nothing is served.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, start_http_server

IMAGES = Counter("stylecat_images_total", "Images a categorize task settled, by outcome", ["outcome"])
BATCH_IMAGES = Histogram(
    "stylecat_batch_images",
    "Images per categorize run (one forward pass, one transaction), by queue",
    ["queue"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
CHALLENGER = Counter(
    "stylecat_challenger_predictions_total", "Predictions of the challenger, by role (shadow, canary)", ["role"]
)
CHALLENGER_ERRORS = Counter(
    "stylecat_challenger_errors_total", "Batches the challenger was meant for but could not run (the champion served)"
)
REGISTRY_UP = Gauge(
    "stylecat_model_registry_up",
    "1 if the latest model registry lookup succeeded, 0 if the registry was unreachable",
    multiprocess_mode="livemostrecent",
)
REGISTRY_ERRORS = Counter(
    "stylecat_model_registry_errors_total", "Model registry lookups that failed while a loaded model kept serving"
)


def serve(port: int) -> None:
    """In the worker's parent process, before the fork: serve every child's samples."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, registry=registry)


def child_exited(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
