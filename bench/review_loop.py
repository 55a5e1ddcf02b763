"""The review loop, measured (#11): from a source of human-made art that the champion has never seen,
K reviewed images (K = 25, 50, 100) -> `retrain` -> accuracy on that source's held-out images,
before and after, beside the synthetic held-out accuracy (so that a gain on the source is not paid
for with the other styles).

The source is DiceBear's Open Peeps (Pablo Stanley's hand-drawn people, CC0 1.0,
`@dicebear/open-peeps` from npm), which is in neither the training corpus nor the reserved art
families. A third of its images, chosen by a hash of their name, are the held-out set; the reviews
come from the rest. Each K starts from the shipped champion in a private MLflow store and a private
database, so that only these reviews are trained on.

    eval "$(.venv/bin/stylecat stack env)"; .venv/bin/python -m bench.review_loop [--images 300] [--ks 25 50 100]

Ends with one JSON line of figures.
"""

import argparse
import hashlib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from bench.harness import fresh_database
from core.settings import get_settings
from core.shares import share
from core.styles import STYLES
from core.threads import model_threads
from db.writes import NewImage, add_review, create_image
from images.storage import store
from migrations import commands as migrate
from model import registry
from model.corpus.build import build
from model.corpus.sources import Source
from model.dataset import folder_files
from model.predictor import StylePredictor
from model.training_config import TrainConfig
from producer.retrain import retrain

SOURCE = Source(
    "open-peeps", "hand_drawn", "dicebear", "@dicebear/open-peeps", "9.4.3", "CC0-1.0", "Open Peeps by Pablo Stanley"
)
HELD_OUT = 1 / 3


def accuracy(predictor: StylePredictor, files: list[Path], label: str) -> float:
    results = predictor.predict([path.read_bytes() for path in files])
    return float(np.mean([getattr(r, "pred", None) == label for r in results]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--ks", type=int, nargs="+", default=[25, 50, 100])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stylecat-review-loop-"))
    base = get_settings()
    written, failures = build(work / "art", [SOURCE], cache=base.cache_dir, per_source=args.images, seed=args.seed)
    files = sorted(path for path, _ in folder_files(work / "art"))
    held = [p for p in files if share(int(hashlib.sha256(p.name.encode()).hexdigest()[:12], 16), "held-out") < HELD_OUT]
    pool = [p for p in files if p not in held]
    assert len(pool) >= max(args.ks), f"{len(pool)} images to review, fewer than K = {max(args.ks)}"

    private = fresh_database("review_loop")
    migrate.upgrade(database_url=private)
    engine = create_engine(private)
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def scope() -> Iterator[Session]:
        with factory() as session, session.begin():
            yield session

    figures: dict[str, object] = {
        "bench": "review_loop",
        "source": f"{SOURCE.package} {SOURCE.version}",
        "rendered": written,
        "held_out": len(held),
        "epochs": args.epochs,
    }
    config = TrainConfig(epochs=args.epochs, lr=1e-3, n_train=1_000, n_test=500, folds=0, seed=args.seed)
    for k in args.ks:
        settings = base.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{work / f'mlflow-{k}.db'}"})
        client = registry.configure(settings)
        champion = registry.load_predictor(
            registry.ensure_champion(client, settings.model_name), model_threads(settings, 1)
        )
        with scope() as session:
            session.execute(text("TRUNCATE images, style_predictions, style_reviews RESTART IDENTITY CASCADE"))
            for path in pool[:k]:
                data, kind = path.read_bytes(), path.suffix.lstrip(".")
                media = f"image/{'jpeg' if kind == 'jpg' else kind}"
                digest = hashlib.sha256(data).hexdigest()
                ref = store(data, sha256=digest, extension=kind, content_type=media, settings=settings)
                image_id = create_image(session=session, image=NewImage(storage_ref=ref, content_type=media))
                add_review(session=session, image_id=image_id, style=SOURCE.style, reviewer="review-loop")
        done = retrain(
            session_factory=scope, settings=settings, config=config, holdout=0.0, fine_tune=True, n_synthetic=1_000
        )
        after = registry.load_predictor(
            registry.resolve(client, f"models:/{settings.model_name}/{done.version}"), model_threads(settings, 1)
        )
        synthetic = done.comparison.scores
        figures[f"k{k}"] = {
            "trained_on": len(done.trained),
            "source_before": round(accuracy(champion, held, SOURCE.style), 4),
            "source_after": round(accuracy(after, held, SOURCE.style), 4),
            "synthetic_before": synthetic[done.champion]["evaluation"].report["accuracy"],
            "synthetic_after": synthetic[done.version]["evaluation"].report["accuracy"],
            "shortfalls": done.comparison.shortfalls,
        }
        print(f"K = {k}: {json.dumps(figures[f'k{k}'])}")
    figures["styles"] = list(STYLES)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
