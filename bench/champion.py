"""The shipped champion's whole recipe, timed: build the corpus (downloads from the cache when it
has them), then `stylecat train` with leave-source-out evaluation and calibration. Prints the
figures the model card quotes and ends with one JSON line.

    .venv/bin/python -m bench.champion [--corpus /tmp/stylecat-corpus] [--export /tmp/stylecat-champion]

The champion in model/champion was made this way (then copied there): about 20 minutes on 2 cores
for version 6 (training 15 min 1 s, corpus build 4 min 41 s).
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

STYLECAT = [sys.executable, "-m", "stylecat"]


def timed(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([*STYLECAT, *args], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/stylecat-corpus"))
    parser.add_argument("--export", type=Path, default=Path("/tmp/stylecat-champion"))
    args = parser.parse_args()
    shutil.rmtree(args.export, ignore_errors=True)
    build = timed(["dataset", "build", str(args.corpus), "--overwrite"])
    train = timed(["train", "--data", str(args.corpus), "--export", str(args.export)])
    evaluation = json.loads((args.export / "evaluation.json").read_text())
    cross, synthetic = evaluation["leave_source_out"], evaluation["synthetic_held_out"]
    print(
        json.dumps(
            {
                "bench": "champion",
                "build_seconds": round(build),
                "train_seconds": round(train),
                "total_minutes": round((build + train) / 60, 1),
                "lso_accuracy": cross["accuracy"],
                "lso_recall": {style: m["recall"] for style, m in cross["per_class"].items()},
                "ece_before": cross["ece_before"],
                "ece_after": cross["ece_after"],
                "temperature": cross["temperature"],
                "synthetic_accuracy": synthetic["accuracy"],
            }
        )
    )


if __name__ == "__main__":
    main()
