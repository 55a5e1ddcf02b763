"""What keeping freed memory in the process (`core/allocator.py`) is worth: `bench.model_throughput`
run in fresh processes, with glibc's default thresholds and with stylecat's, taking turns, `--rounds`
times; medians of the champion's figures at batch 64. Ends with one JSON line.

    .venv/bin/python -m bench.allocator [--rounds 3]
"""

import argparse
import json
import statistics
import subprocess
import sys

MODES = {"glibc_defaults": ["--glibc-defaults"], "kept": []}


def run_once(extra: list[str]) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.model_throughput", "--repeats", "5", *extra]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    return figures["champion"]["64"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for round_ in range(args.rounds):
        for mode, extra in MODES.items():  # in turn, so drift hits both alike
            result = run_once(extra)
            runs[mode].append(result)
            rates = f"{result['end_to_end']:>7} img/s, forward alone {result['forward']:>7}"
            print(f"round {round_ + 1}: {mode:<15} batch 64: {rates}")
    figures = {
        f"{mode}_{key}_img_s": round(statistics.median(r[key] for r in results), 1)
        for mode, results in runs.items()
        for key in ("end_to_end", "forward")
    }
    figures["forward_ratio"] = round(figures["kept_forward_img_s"] / figures["glibc_defaults_forward_img_s"], 2)
    figures["end_to_end_ratio"] = round(
        figures["kept_end_to_end_img_s"] / figures["glibc_defaults_end_to_end_img_s"], 2
    )
    print(json.dumps({"bench": "allocator", "rounds": args.rounds, **figures}))


if __name__ == "__main__":
    main()
