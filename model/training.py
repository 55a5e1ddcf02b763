"""`stylecat train`: data → StyleNet → held-out evaluation → MLflow run → a new registered version."""

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from model import registry
from model.dataset import TEST_SEED, DatasetError, folder_split, synthetic_split
from model.evaluation import confusion_figure, report
from model.net import StyleNet
from model.predictor import StylePredictor
from model.pyfunc import register
from stylecat.settings import Settings

PAD = 8  # reflect padding before random crops


@dataclass(frozen=True)
class TrainConfig:
    data: Path | None = None
    """A labelled folder; None: the synthetic generator."""
    n_train: int = 12_000
    n_test: int = 2_000
    epochs: int = 20
    image_size: int = 128
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 1
    threads: int = 2


@dataclass(frozen=True)
class TrainResult:
    version: str
    run_id: str
    metrics: dict[str, Any]


def augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random crops of a reflect-padded uint8 NHWC batch, and horizontal flips."""
    n, h, w, _ = batch.shape
    padded = np.pad(batch, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)), mode="reflect")
    dy, dx = rng.integers(0, 2 * PAD + 1, (2, n))
    out = np.stack([padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    return out


def predict_labels(predictor: StylePredictor, pixels: np.ndarray, batch: int = 256) -> np.ndarray:
    return np.concatenate([predictor.probabilities(pixels[i:i + batch]).argmax(1)
                           for i in range(0, len(pixels), batch)])


def load_data(config: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train and test pixels and labels. A folder is split 80/20 with the seed."""
    if config.data is None:
        if config.seed == TEST_SEED:
            raise DatasetError(f"seed {TEST_SEED} is reserved for the held-out test split")
        x_train, y_train = synthetic_split(config.n_train, config.seed, config.image_size)
        x_test, y_test = synthetic_split(config.n_test, TEST_SEED, config.image_size)
        return x_train, y_train, x_test, y_test
    pixels, labels, _ = folder_split(config.data, config.image_size)
    order = np.random.default_rng(config.seed).permutation(len(labels))
    cut = max(1, int(len(order) * 0.8))
    return pixels[order[:cut]], labels[order[:cut]], pixels[order[cut:]], labels[order[cut:]]


def fit(net: StyleNet, x: np.ndarray, y: np.ndarray, config: TrainConfig, on_epoch=None) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    predictor = StylePredictor(net, config.image_size)  # shares the net; used for the input layout
    steps_per_epoch = max(1, len(x) // config.batch_size)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                   total_steps=config.epochs * steps_per_epoch, pct_start=0.15)
    for epoch in range(config.epochs):
        net.train()
        order = rng.permutation(len(x))
        losses, correct, started = [], 0, time.perf_counter()
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", leave=False)
        for step in bar:
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            logits = net(predictor.tensor(augment(x[idx], rng)))
            target = torch.from_numpy(y[idx])
            loss = F.cross_entropy(logits, target, label_smoothing=0.05)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            correct += int((logits.argmax(1) == target).sum())
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
        net.eval()
        if on_epoch:
            on_epoch(epoch, {"loss": float(np.mean(losses)), "train_accuracy": correct / (steps_per_epoch * config.batch_size),
                             "epoch_seconds": time.perf_counter() - started})


def train(config: TrainConfig, settings: Settings, export: Path | None = None) -> TrainResult:
    """Train, evaluate on the held-out split, register; `export` also writes the weights folder there."""
    torch.set_num_threads(config.threads)
    registry.configure(settings)
    x_train, y_train, x_test, y_test = load_data(config)
    net = StyleNet()
    with mlflow.start_run(run_name="train") as run:
        mlflow.log_params({**asdict(config), "data": str(config.data or "synthetic"),
                           "parameters": sum(p.numel() for p in net.parameters()), "test_seed": TEST_SEED})
        fit(net, x_train, y_train, config,
            on_epoch=lambda epoch, metrics: mlflow.log_metrics(metrics, step=epoch))
        predictor = StylePredictor(net, config.image_size)
        result = report(y_test, predict_labels(predictor, x_test))
        mlflow.log_metrics({"test_accuracy": result["accuracy"],
                            **{f"test_{k}_{style}": v for style, m in result["per_class"].items()
                               for k, v in m.items() if k != "support"}})
        mlflow.log_dict(result, "evaluation.json")
        mlflow.log_figure(confusion_figure(result), "confusion_matrix.png")
        with tempfile.TemporaryDirectory() as folder:
            predictor.save(Path(folder) / "model_dir")
            version = register(Path(folder) / "model_dir", name=settings.model_name)
        if export is not None:
            predictor.save(export)
    return TrainResult(version=version, run_id=run.info.run_id, metrics=result)
