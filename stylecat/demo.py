"""`stylecat demo`: the whole pipeline on sample illustrations, left running for you to explore.

Starts the API, a live worker, a backfill worker, beat, Flower and the MLflow UI as background
processes (pid files and logs under `stack_dir/demo`), uploads a bundle of generated illustrations
through the HTTP API, waits until they are categorized and searchable, and prints what search sees.
`stylecat demo --stop` (or `make down`) stops them.
"""

import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

from core import waiting
from core.settings import Settings
from model import synthetic
from stylecat import processes

API_PORT, FLOWER_PORT, MLFLOW_PORT = 8000, 5555, 5000
JPEG_MAGIC = b"\xff\xd8"


def _folder(settings: Settings) -> Path:
    folder = settings.stack_dir / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _start(settings: Settings, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
    folder = _folder(settings)
    processes.start(args, folder / f"{name}.pid", folder / f"{name}.log", env)  # a running one stays


def stop(settings: Settings) -> list[str]:
    return [pid_file.stem for pid_file in sorted(_folder(settings).glob("*.pid")) if processes.stop(pid_file)]


def start_services(settings: Settings) -> str:
    """Start every process of the demo; return Flower's password (made once, kept in the demo folder)."""
    secret_file = _folder(settings) / "flower-password"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(12))
    password = secret_file.read_text()
    stylecat = [sys.executable, "-m", "stylecat"]
    subprocess.run([*stylecat, "model", "bootstrap"], check=True, capture_output=True)
    _start(settings, "api", [*stylecat, "api", "--port", str(API_PORT)])
    _start(settings, "worker-live", [*stylecat, "worker", "--queues", "categorize.live,index", "--concurrency", "2"])
    _start(settings, "worker-backfill", [*stylecat, "worker", "--queues", "categorize.backfill", "--concurrency", "1"])
    _start(settings, "beat", [*stylecat, "beat"])
    _start(
        settings,
        "flower",
        [*stylecat, "flower", "--port", str(FLOWER_PORT)],
        {"STYLECAT_FLOWER_USER": "admin", "STYLECAT_FLOWER_PASSWORD": password},
    )
    _start(
        settings,
        "mlflow-ui",
        [
            sys.executable,
            "-m",
            "mlflow",
            "ui",
            "--host",
            "127.0.0.1",
            "--port",
            str(MLFLOW_PORT),
            "--backend-store-uri",
            settings.mlflow_tracking_uri,
        ],
    )
    return password


def write_samples(folder: Path, n: int, seed: int = 20261124) -> list[Path]:
    """`n` generated illustrations (JPEG or PNG, as the generator encodes them), 4 styles in turn."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(n):
        image, style = synthetic.sample(index, seed)
        data = synthetic.encode(image, np.random.default_rng([seed, index, 1]))
        extension = "jpg" if data.startswith(JPEG_MAGIC) else "png"
        path = folder / f"{style}-{index:03d}.{extension}"
        path.write_bytes(data)
        paths.append(path)
    return paths


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    waiting.wait_for(check, timeout, what, interval=1, ignore=(httpx.HTTPError,), hint=" (logs: stack_dir/demo/*.log)")
