"""What the shadow costs a worker (#11): the same batches categorized with shadow fraction 0 and 1,
side by side in one run, against the challenger's own forward pass over the same decoded images.

Each run is `categorize()` as a worker task runs it: claim, fetch from the local store, decode,
the model(s), one write transaction (the shadow adds its history rows). The registry is a private
MLflow store with the shipped versions: the corpus champion (2) and v1 as the challenger (1).

    eval "$(.venv/bin/stylecat stack env)"; .venv/bin/python -m bench.shadow [--images 64] [--repeats 7]

Ends with one JSON line of figures.
"""

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import delete, insert, update

from bench.common import jpegs_800px
from core.settings import get_settings
from core.threads import model_threads
from db.models import Image, StylePrediction
from db.session import session_scope
from images.storage import store
from model import registry
from worker.categorize import categorize
from worker.local import LocalClassifier


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="stylecat-bench-shadow-"))
    base = get_settings().model_copy(
        update={"mlflow_tracking_uri": f"sqlite:///{folder / 'mlflow.db'}", "model_recheck_interval": 3600}
    )
    client = registry.configure(base)
    registry.ensure_champion(client, base.model_name)
    registry.promote(client, base.model_name, "1", "challenger")

    images = jpegs_800px(args.images)
    refs = [
        store(d, sha256=hashlib.sha256(d).hexdigest(), extension="jpg", content_type="image/jpeg", settings=base)
        for d in images
    ]
    with session_scope() as session:
        ids = list(
            session.scalars(
                insert(Image).returning(Image.id), [{"storage_ref": r, "title": "bench shadow"} for r in refs]
            )
        )
    runs = {
        "shadow_0": base.model_copy(update={"shadow_fraction": 0.0}),
        "shadow_1": base.model_copy(update={"shadow_fraction": 1.0}),
    }
    classifier = LocalClassifier(runs["shadow_1"], threads=model_threads(base, 1))
    classifier.current_model(), classifier.current_challenger()  # both loaded before timing

    def once(name: str) -> float:
        with session_scope() as session:  # the images are new again: claimed, run, written
            session.execute(update(Image).where(Image.id.in_(ids)).values(status="queued", model_version=None))
            session.execute(delete(StylePrediction).where(StylePrediction.image_id.in_(ids)))
        started = time.perf_counter()
        summary = categorize(image_ids=ids, classifier=classifier, settings=runs[name], session_factory=session_scope)
        elapsed = time.perf_counter() - started
        assert len(summary.categorized) == len(ids) and len(summary.shadow) == (len(ids) if name == "shadow_1" else 0)
        return elapsed

    challenger = registry.load_predictor(
        registry.resolve(client, f"models:/{base.model_name}/1"), model_threads(base, 1)
    )
    pixels = np.stack([challenger.pixels(d, base.max_image_pixels) for d in images])

    def forward() -> float:
        started = time.perf_counter()
        challenger.probabilities(pixels)
        return time.perf_counter() - started

    timings: dict[str, list[float]] = {name: [] for name in [*runs, "forward"]}
    for name in runs:
        once(name)  # warm-up
    forward()
    for _ in range(args.repeats):  # in turn, so that drift in the machine hits all three alike
        for name in runs:
            timings[name].append(once(name))
        timings["forward"].append(forward())

    with session_scope() as session:
        session.execute(delete(Image).where(Image.id.in_(ids)))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    cost = medians["shadow_1"] - medians["shadow_0"]
    figures = {
        "bench": "shadow",
        "images": args.images,
        "repeats": args.repeats,
        "shadow_0_img_s": round(args.images / medians["shadow_0"], 1),
        "shadow_1_img_s": round(args.images / medians["shadow_1"], 1),
        "shadow_1_over_0": round(medians["shadow_0"] / medians["shadow_1"], 3),
        "shadow_cost_ms": round(cost * 1000, 1),
        "challenger_forward_ms": round(medians["forward"] * 1000, 1),
        "cost_over_forward": round(cost / medians["forward"], 2),
    }
    for name in runs:
        seconds = medians[name]
        print(f"{name:<10}{args.images / seconds:>8.1f} img/s  ({seconds * 1000:.0f} ms a batch of {args.images})")
    print(
        f"shadow cost {cost * 1000:.0f} ms a batch; the challenger's forward pass alone "
        f"{figures['challenger_forward_ms']} ms"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
