"""Shared by the benchmarks: realistic inputs and a median timer."""

import io
import statistics
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from model import synthetic


def jpegs_800px(n: int, seed: int = 31337) -> list[bytes]:
    """Generated illustrations resized to 800 px on the long side, saved as JPEG (quality 75-95)."""
    rng = np.random.default_rng(seed)
    out = []
    for index in range(n):
        image, _ = synthetic.sample(index, seed)
        scale = 800 / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=int(rng.integers(75, 96)))
        out.append(buffer.getvalue())
    return out


def median_seconds(run: Callable[[], object], repeats: int = 7, warmup: int = 1) -> float:
    for _ in range(warmup):
        run()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)
