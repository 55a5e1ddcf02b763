"""`stylecat train`: data → StyleNet → honest evaluation → MLflow run → a new registered version.

With a labelled corpus (`--data`, see `stylecat dataset build`) the data is the corpus mixed with
the synthetic generator, and the figure that counts is leave-source-out: the corpus sources are
split into `folds` groups, a model is trained without each group and tested on it, so every
source is judged by a model that never saw it. Those out-of-source predictions also fit the
temperature that calibrates the final model (served only when, fitted on the other folds, it
lowers each fold's calibration error), which is then trained on everything.
"""

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from core.allocator import keep_freed_memory
from core.settings import Settings
from core.styles import STYLES
from model import registry
from model.augment import augment
from model.calibration import expected_calibration_error, fit_temperature, softmax
from model.dataset import TEST_SEED, DatasetError, LabelledPixels, labelled_pixels, synthetic_split
from model.evaluation import confusion_figure, predict_labels, report
from model.export import as_input, load_net, save
from model.linear_expert import DEFAULT_SHARE, fit_linear, fit_share
from model.net import Parts, StyleNet, mix
from model.predictor import StylePredictor
from model.pyfunc import register
from model.training_config import REVIEWS, TrainConfig

log = logging.getLogger(__name__)

SYNTHETIC = "synthetic"
SYNTHETIC_SHARE = 0.25
WIDTHS = (16, 32, 64, 128)
STATS = 2
"""The style statistics version new models are built with (:func:`model.stats.feature_names`)."""
STATS_WIDTH = 128
BRANCH_DROPOUT = 0.5
LABEL_SMOOTHING = 0.05


def new_net() -> StyleNet:
    """The architecture new models are trained with (model version 6): a small convolutional
    branch, whose features a whole image loses half the time in training, beside the statistics;
    a head for the generator's images, one for the real art, and a gate between them; on the real
    side, a linear model of the statistics beside the real head."""
    return StyleNet(
        widths=WIDTHS,
        stats=STATS,
        stats_width=STATS_WIDTH,
        branch_dropout=BRANCH_DROPOUT,
        experts=True,
        linear_expert=True,
    )


def loss_of(
    net: StyleNet, x: torch.Tensor, statistics: torch.Tensor | None, target: torch.Tensor, synthetic: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The training loss of a batch, and the logits that predict it. With experts, `head` learns
    the generator's images (`synthetic`) alone, `real_head` the others alone, the gate which is which
    (the linear expert is fitted after, :func:`fit_linear_expert`)."""
    parts = net.parts(x, statistics)
    if parts.real is None or parts.gate is None:
        return F.cross_entropy(parts.head, target, label_smoothing=LABEL_SMOOTHING), parts.head
    loss = F.binary_cross_entropy_with_logits(parts.gate.squeeze(1), synthetic.float())
    for head, mine in ((parts.head, synthetic), (parts.real, ~synthetic)):
        per_image = F.cross_entropy(head, target, label_smoothing=LABEL_SMOOTHING, reduction="none")
        loss = loss + (per_image * mine).sum() / mine.sum().clamp_min(1)
    return loss, net.output(parts)


@dataclass(frozen=True)
class TrainResult:
    version: str
    run_id: str
    metrics: dict[str, Any]
    """The synthetic held-out report, with `leave_source_out` when it ran."""


@dataclass(frozen=True)
class Pool:
    """Training pixels with labels and the source of each image."""

    pixels: np.ndarray
    labels: np.ndarray
    sources: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, mask: np.ndarray) -> "Pool":
        return Pool(self.pixels[mask], self.labels[mask], self.sources[mask])

    def __add__(self, other: "Pool") -> "Pool":
        return Pool(
            np.concatenate([self.pixels, other.pixels]),
            np.concatenate([self.labels, other.labels]),
            np.concatenate([self.sources, other.sources]),
        )


def sample_weights(pool: Pool, synthetic_share: float = SYNTHETIC_SHARE, review_weight: float = 1.0) -> np.ndarray:
    """Draw probabilities: every class equally often; inside a class, a source of n images gets a
    share ∝ sqrt(n), so no single icon family dominates its class. The synthetic images, when the
    pool mixes them with real ones, get `synthetic_share` of all draws, so that the model keeps
    the generator's styles (its own held-out split) while it learns the real art. A reviewed image
    (source `reviews`) is drawn `review_weight` times as often as the average other image of its
    class: reviews add to the corpus, they do not take the place of a source (without a corpus,
    25 reviews of one style would otherwise get three quarters of all draws)."""
    reviews = pool.sources == REVIEWS
    if not reviews.any() or reviews.all():
        return _balanced(pool, synthetic_share)
    weights = np.zeros(len(pool))
    weights[~reviews] = _balanced(pool.take(~reviews), synthetic_share)
    for label in np.unique(pool.labels[reviews]):
        same = (~reviews) & (pool.labels == label)
        typical = weights[same].mean() if same.any() else weights[~reviews].mean()
        weights[reviews & (pool.labels == label)] = review_weight * typical
    return weights / weights.sum()


def _balanced(pool: Pool, synthetic_share: float) -> np.ndarray:
    weights = np.zeros(len(pool))
    synthetic = pool.sources == SYNTHETIC
    everything = np.ones(len(pool), dtype=bool)
    mixed = synthetic.any() and (~synthetic).any()
    parts = [(synthetic, synthetic_share), (~synthetic, 1.0 - synthetic_share)] if mixed else [(everything, 1.0)]
    for part, share in parts:
        present = np.unique(pool.labels[part])
        for label in present:
            in_class = part & (pool.labels == label)
            names, counts = np.unique(pool.sources[in_class], return_counts=True)
            source_share = np.sqrt(counts) / np.sqrt(counts).sum()
            for name, count, within in zip(names, counts, source_share, strict=True):
                weights[in_class & (pool.sources == name)] = share * within / count / len(present)
    return weights / weights.sum()


def fit(
    net: StyleNet,
    pool: Pool,
    config: TrainConfig,
    desc: str = "train",
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> None:
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    weights = sample_weights(pool, review_weight=config.review_weight)
    steps_per_epoch = max(1, len(pool) // config.batch_size)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.15
    )
    net.to(memory_format=torch.channels_last)
    statistics = clean_statistics(net, pool.pixels)
    bar = tqdm(total=config.epochs * steps_per_epoch, desc=desc, unit="batch", leave=False)
    for epoch in range(config.epochs):
        net.train()
        losses, correct, started = [], 0, time.perf_counter()
        for _ in range(steps_per_epoch):
            idx = rng.choice(len(pool), size=config.batch_size, p=weights)
            target = torch.from_numpy(pool.labels[idx])
            synthetic = torch.from_numpy(pool.sources[idx] == SYNTHETIC)
            batch = augment(pool.pixels[idx], rng)
            loss, logits = loss_of(net, batch, None if statistics is None else statistics[idx], target, synthetic)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            correct += int((logits.argmax(1) == target).sum())
            bar.update()
            bar.set_postfix(epoch=f"{epoch + 1}/{config.epochs}", loss=f"{np.mean(losses[-50:]):.3f}")
        net.eval()
        if on_epoch:
            on_epoch(
                epoch,
                {
                    "loss": float(np.mean(losses)),
                    "train_accuracy": correct / (steps_per_epoch * config.batch_size),
                    "epoch_seconds": time.perf_counter() - started,
                },
            )
    bar.close()
    fit_linear_expert(net, pool, statistics, config.review_weight)


def fit_linear_expert(net: StyleNet, pool: Pool, statistics: torch.Tensor | None, review_weight: float) -> None:
    """Fit the linear expert (:mod:`model.linear_expert`) on the real images' statistics, each once
    (a review `review_weight` times), and give it DEFAULT_SHARE of the real side (training gives it
    the share leave-source-out fitted). Without real images it is left as it is (a share of 0 in a
    new network; a network to fine-tune keeps its own)."""
    real = pool.sources != SYNTHETIC
    if not net.linear_expert or statistics is None or not real.any():
        return
    counted = np.where(pool.sources[real] == REVIEWS, review_weight, 1.0)
    weight, bias = fit_linear(
        statistics[torch.from_numpy(real)],
        torch.from_numpy(pool.labels[real]).long(),
        torch.from_numpy(counted),
        len(STYLES),
    )
    with torch.no_grad():
        net.linear_statistics.weight.copy_(weight)
        net.linear_statistics.bias.copy_(bias)
        net.linear_share.fill_(DEFAULT_SHARE)


def clean_statistics(net: StyleNet, pixels: np.ndarray, batch: int = 256) -> torch.Tensor | None:
    """The style statistics of every training image as it is, computed once: the network sees
    them beside its augmented pixels (augmenting them shifts them away from what serving sees)."""
    if not net.stats:
        return None
    with torch.inference_mode():
        return torch.cat([net.style_statistics(as_input(pixels[i : i + batch])) for i in range(0, len(pixels), batch)])


def predict_parts(net: StyleNet, pixels: np.ndarray, batch: int = 256) -> Parts:
    """Every part's logits (:meth:`StyleNet.parts`) for every image, in evaluation mode."""
    net.eval()
    with torch.inference_mode():
        chunks = [net.parts(as_input(pixels[i : i + batch])) for i in range(0, len(pixels), batch)]
    return Parts.cat(chunks)


def predict_logits(net: StyleNet, pixels: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """In one pass, the logits of every image and the gate's weight on the head that learned the
    generator's images (0 without experts)."""
    parts = predict_parts(net, pixels, batch)
    shares = torch.zeros(len(parts.head)) if parts.gate is None else torch.sigmoid(parts.gate).squeeze(1)
    return net.output(parts).numpy(), shares.numpy()


def rows(parts: Parts, mask: np.ndarray) -> Parts:
    """The parts of the images `mask` selects."""
    index = torch.from_numpy(mask)
    return parts.map(lambda part: part[index])


def assign_folds(pool: Pool, folds: int) -> dict[str, int]:
    """Each source to one of `folds` groups: largest first, into the group that holds the fewest
    images of that source's class (so every group tests several classes). Deterministic."""
    names, first, counts = np.unique(pool.sources, return_index=True, return_counts=True)
    if len(names) < folds:
        raise DatasetError(
            f"leave-source-out needs at least {folds} sources, the data has {len(names)}: "
            f"name files <source>--<name>.<ext> (stylecat dataset build does) or use --folds 0"
        )
    per_class = np.zeros((folds, len(STYLES)), dtype=int)
    assignment: dict[str, int] = {}
    for i in sorted(range(len(names)), key=lambda i: (-counts[i], names[i])):
        label = pool.labels[first[i]]
        fold = int(np.lexsort((per_class.sum(1), per_class[:, label]))[0])
        assignment[str(names[i])] = fold
        per_class[fold, label] += counts[i]
    return assignment


def leave_source_out(corpus: Pool, synthetic: Pool, config: TrainConfig) -> dict[str, Any]:
    """Out-of-source logits for every corpus image, and the figures they give."""
    assignment = assign_folds(corpus, config.folds)
    fold_of = np.array([assignment[s] for s in corpus.sources])
    held_parts: list[Parts] = []
    for fold in range(config.folds):
        held = fold_of == fold
        net = new_net()
        fit(net, corpus.take(~held) + synthetic, config, desc=f"leave-source-out {fold + 1}/{config.folds}")
        held_parts.append(predict_parts(net, corpus.pixels[held]))
    # The folds' parts, put back in corpus order.
    order = np.argsort(np.concatenate([np.flatnonzero(fold_of == fold) for fold in range(config.folds)]))
    parts = Parts.cat(held_parts).map(lambda part: part[torch.from_numpy(order)])
    labels = torch.from_numpy(corpus.labels).long()
    # Cross-fitted, as the temperature is below: each fold's linear share from the other folds.
    logits = np.zeros((len(corpus), len(STYLES)), dtype=np.float32)
    fold_shares = []
    for fold in range(config.folds):
        held = fold_of == fold
        fold_shares.append(fit_share(rows(parts, ~held), labels[~held]))
        logits[held] = mix(rows(parts, held), fold_shares[-1]).numpy()
    linear_share = fit_share(parts, labels)
    shares = torch.sigmoid(parts.gate).squeeze(1).numpy() if parts.gate is not None else np.zeros(len(corpus))
    # Cross-fitted calibration: each fold's temperature comes from the other folds' predictions.
    calibrated = np.zeros_like(logits)
    for fold in range(config.folds):
        held = fold_of == fold
        calibrated[held] = softmax(logits[held], fit_temperature(logits[~held], corpus.labels[~held]))
    raw = softmax(logits)
    ece_before = expected_calibration_error(raw, corpus.labels)
    ece_after = expected_calibration_error(calibrated, corpus.labels)
    predicted = raw.argmax(1)
    per_source = {}
    for name in np.unique(corpus.sources):
        members = corpus.sources == name
        per_source[str(name)] = {
            "style": STYLES[int(corpus.labels[members][0])],
            "n": int(members.sum()),
            "fold": assignment[str(name)],
            "accuracy": round(float((predicted[members] == corpus.labels[members]).mean()), 4),
            "predicted": {style: int((predicted[members] == k).sum()) for k, style in enumerate(STYLES)},
            "generator_share": round(float(shares[members].mean()), 4),
        }
    return {
        **report(corpus.labels, predicted),
        "per_source": per_source,
        "generator_share": round(float(shares.mean()), 4),
        "linear_share": linear_share,
        "linear_share_by_fold": fold_shares,
        "expert_accuracy": {
            name: round(float((part.argmax(1).numpy() == corpus.labels).mean()), 4)
            for name, part in (("real_head", parts.real), ("linear", parts.linear))
            if part is not None
        },
        "ece_before": round(ece_before, 4),
        "ece_after": round(ece_after, 4),
        "temperature": round(fit_temperature(mix(parts, linear_share).numpy(), corpus.labels), 4),
        # A temperature that makes held-out folds worse calibrated is not served.
        "calibration_applied": bool(ece_after < ece_before),
    }


def log_epoch(epoch: int, metrics: dict[str, float]) -> None:
    mlflow.log_metrics(metrics, step=epoch)


def load_corpus(config: TrainConfig) -> Pool | None:
    """The corpus and the exported reviews, as one pool (None if there is neither)."""
    pools = []
    for folder in (config.data, config.reviews):
        if folder is not None:
            data: LabelledPixels = labelled_pixels(folder, config.image_size)
            pools.append(Pool(data.pixels, data.labels, data.sources))
    return sum(pools[1:], pools[0]) if pools else None


def initial_net(config: TrainConfig) -> StyleNet:
    """Random weights, or the weights of `config.init` to fine-tune (at the input size it was made for)."""
    if config.init is None:
        return new_net()
    start, saved = load_net(config.init)
    if saved["image_size"] != config.image_size:
        raise DatasetError(
            f"{config.init} takes {saved['image_size']} px images; train with --image-size {saved['image_size']}"
        )
    return start


def train(
    config: TrainConfig, settings: Settings, export: Path | None = None, records: dict[str, Any] | None = None
) -> TrainResult:
    """Train (after leave-source-out when there is a corpus), evaluate on the synthetic held-out
    split, register; `export` also writes the weights folder there; `records` are logged to the
    run as JSON files (name -> content)."""
    if config.seed == TEST_SEED:
        raise DatasetError(f"seed {TEST_SEED} is reserved for the held-out test split")
    torch.set_num_threads(config.threads)
    keep_freed_memory()
    registry.configure(settings)
    corpus = load_corpus(config)
    x_syn, y_syn = synthetic_split(config.n_train, config.seed, config.image_size)
    synthetic = Pool(x_syn, y_syn, np.full(len(y_syn), SYNTHETIC))
    x_test, y_test = synthetic_split(config.n_test, TEST_SEED, config.image_size)
    net = initial_net(config)
    with mlflow.start_run(run_name="train") as run:
        for name, content in (records or {}).items():
            mlflow.log_dict(content, name)
        mlflow.log_params(
            {
                **asdict(config),
                "data": str(config.data or "synthetic"),
                "corpus_images": len(corpus) if corpus else 0,
                "parameters": sum(p.numel() for p in net.parameters()),
                "test_seed": TEST_SEED,
            }
        )
        temperature, cross, linear_share = 1.0, None, None
        sources = len(np.unique(corpus.sources)) if corpus is not None else 0
        if corpus is not None and 2 <= config.folds and sources < config.folds:
            log.warning(
                "%s has %d source(s), fewer than --folds %d: no leave-source-out figures and no "
                "calibration (name files <source>--<name>.<ext>)",
                config.data,
                sources,
                config.folds,
            )
        elif corpus is not None and config.folds >= 2:
            cross = leave_source_out(corpus, synthetic, config)
            temperature = cross["temperature"] if cross["calibration_applied"] else 1.0
            linear_share = cross["linear_share"]
            mlflow.log_metrics(
                {
                    "lso_accuracy": cross["accuracy"],
                    "lso_ece_before": cross["ece_before"],
                    "lso_ece_after": cross["ece_after"],
                    "temperature": temperature,
                    **{f"lso_recall_{style}": m["recall"] for style, m in cross["per_class"].items()},
                }
            )
            mlflow.log_dict(cross, "leave_source_out.json")
            mlflow.log_figure(confusion_figure(cross), "leave_source_out_confusion.png")
        pool = synthetic if corpus is None else corpus + synthetic
        fit(
            net,
            pool,
            config,
            desc="final model",
            on_epoch=log_epoch,
        )
        if linear_share is not None and net.linear_expert:
            with torch.no_grad():
                net.linear_share.fill_(linear_share)
        with tempfile.TemporaryDirectory() as folder:
            model_dir = Path(folder) / "model_dir"
            save(net, model_dir, image_size=config.image_size, temperature=temperature)
            # The held-out figures are those of the export that serves, not of the torch network.
            predictor = StylePredictor.load(model_dir, threads=config.threads)
            result = report(y_test, predict_labels(predictor, x_test))
            result["generator_share"] = round(float(predict_logits(net, x_test)[1].mean()), 4)
            mlflow.log_metrics(
                {
                    "test_accuracy": result["accuracy"],
                    **{
                        f"test_{k}_{style}": v
                        for style, m in result["per_class"].items()
                        for k, v in m.items()
                        if k != "support"
                    },
                }
            )
            mlflow.log_dict(result, "evaluation.json")
            mlflow.log_figure(confusion_figure(result), "confusion_matrix.png")
            version = register(model_dir, name=settings.model_name)
            if export is not None:
                shutil.copytree(model_dir, export, dirs_exist_ok=True)
                evaluation = {"synthetic_held_out": result, "leave_source_out": cross}
                (export / registry.EVALUATION).write_text(json.dumps(evaluation, indent=1) + "\n")
    metrics = {**result, "leave_source_out": cross} if cross else result
    return TrainResult(version=version, run_id=run.info.run_id, metrics=metrics)
