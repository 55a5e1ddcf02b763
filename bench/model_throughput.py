"""Images per second of the shipped champion on this CPU: decode + preprocess + forward at batch
sizes 1, 16 and 64 on 800 px JPEGs, and forward alone; medians over several runs.

    .venv/bin/python -m bench.model_throughput [--threads 2] [--repeats 7]
"""

import argparse

import numpy as np
import torch

from bench.common import jpegs_800px, median_seconds
from model.predictor import StylePredictor
from model.registry import CHAMPION_DIR


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    predictor = StylePredictor.load(CHAMPION_DIR)
    images = jpegs_800px(64)
    pixels = np.stack([predictor.pixels(data, 40_000_000) for data in images])
    print(f"torch {torch.__version__}, {args.threads} threads, input {predictor.image_size}px, "
          f"{sum(p.numel() for p in predictor.net.parameters()):,} parameters, median of {args.repeats} runs")
    print(f"{'batch':>6}{'decode+pre+forward img/s':>27}{'decode+pre img/s':>19}{'forward img/s':>16}")
    for batch in (1, 16, 64):
        items, batch_pixels = images[:batch], pixels[:batch]
        full = median_seconds(lambda: predictor.predict(items), args.repeats)
        decode = median_seconds(lambda: [predictor.pixels(d, 40_000_000) for d in items], args.repeats)
        forward = median_seconds(lambda: predictor.probabilities(batch_pixels), args.repeats)
        print(f"{batch:>6}{batch / full:>27.1f}{batch / decode:>19.1f}{batch / forward:>16.1f}")


if __name__ == "__main__":
    main()
