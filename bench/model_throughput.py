"""Images per second of the shipped models on this CPU: decode + preprocess + forward at batch
sizes 1, 16 and 64 on 800 px JPEGs, and forward alone; medians over several runs, the champion and
the retired versions measured side by side (interleaved) in one run. Ends with one JSON line.

    .venv/bin/python -m bench.model_throughput [--threads 2] [--repeats 7] [--glibc-defaults]

Like every model process, it keeps freed memory for the next batch (`core/allocator.py`);
`--glibc-defaults` leaves the allocator as it is, for `bench.allocator`'s comparison.
"""

import argparse
import json

import numpy as np
import onnxruntime

from bench.common import jpegs_800px, median_seconds
from core.allocator import keep_freed_memory
from model.folder import ONNX
from model.predictor import StylePredictor
from model.registry import CHAMPION_DIR, SHIPPED


def measure(predictor: StylePredictor, images: list[bytes], batch: int, repeats: int) -> dict[str, float]:
    items = images[:batch]
    pixels = np.stack([predictor.pixels(data, 40_000_000) for data in items])
    full = median_seconds(lambda: predictor.predict(items), repeats)
    decode = median_seconds(lambda: predictor.decode(items, 40_000_000), repeats)
    forward = median_seconds(lambda: predictor.probabilities(pixels), repeats)
    return {
        "end_to_end": round(batch / full, 1),
        "decode": round(batch / decode, 1),
        "forward": round(batch / forward, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--glibc-defaults", action="store_true", help="leave the allocator's thresholds alone")
    args = parser.parse_args()
    tuned = not args.glibc_defaults and keep_freed_memory()
    *retired, _ = SHIPPED
    folders = {"champion": CHAMPION_DIR} | dict(retired)
    models = {name: StylePredictor.load(folder, args.threads) for name, folder in folders.items()}
    images = jpegs_800px(64)
    print(f"ONNX Runtime {onnxruntime.__version__}, {args.threads} threads, median of {args.repeats} runs, img/s")
    for name, predictor in models.items():
        size = (folders[name] / ONNX).stat().st_size
        print(f"  {name}: input {predictor.image_size} px, {size / 1e6:.2f} MB exported")
    print(f"{'model':<14}{'batch':>6}{'decode+pre+forward':>20}{'decode+pre':>12}{'forward':>10}")
    figures: dict[str, dict[int, dict[str, float]]] = {name: {} for name in models}
    for batch in (1, 16, 64):
        for name, predictor in models.items():  # interleaved, so drift hits all alike
            result = figures[name][batch] = measure(predictor, images, batch, args.repeats)
            print(f"{name:<14}{batch:>6}{result['end_to_end']:>20}{result['decode']:>12}{result['forward']:>10}")
    previous = retired[-1][0]
    ratio = figures["champion"][64]["end_to_end"] / figures[previous][64]["end_to_end"]
    print(
        json.dumps(
            {
                "bench": "model_throughput",
                "onnxruntime": onnxruntime.__version__,
                "threads": args.threads,
                "allocator_tuned": tuned,
                **figures,
                f"champion_over_{previous}_batch64": round(ratio, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
