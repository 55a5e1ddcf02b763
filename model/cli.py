"""CLI: `stylecat train` and `stylecat model list | evaluate | bootstrap` (the lifecycle commands are in
producer/lifecycle_cli.py)."""

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from core.settings import get_settings
from model.training_config import TrainConfig

model_app = typer.Typer(help="The registered style CNN: versions, aliases, evaluation.", no_args_is_help=True)


def train(
    data: Annotated[
        Path | None,
        typer.Option(
            help="Labelled folder DIR/<style>/* (the corpus, or exported reviews), mixed with the synthetic images."
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(min=1)] = TrainConfig.epochs,
    image_size: Annotated[int, typer.Option(min=32, max=512)] = TrainConfig.image_size,
    batch_size: Annotated[int, typer.Option(min=2)] = TrainConfig.batch_size,
    n_train: Annotated[int, typer.Option(min=8, help="Synthetic training images.")] = TrainConfig.n_train,
    n_test: Annotated[int, typer.Option(min=4, help="Synthetic held-out images.")] = TrainConfig.n_test,
    folds: Annotated[
        int,
        typer.Option(
            min=0, help="Leave-source-out folds over --data's sources; they also fit the calibration (0: neither)."
        ),
    ] = TrainConfig.folds,
    seed: int = TrainConfig.seed,
    threads: Annotated[int, typer.Option(min=1, help="Torch threads.")] = TrainConfig.threads,
    promote_to: Annotated[str | None, typer.Option("--promote", help="Point this alias at the new version.")] = None,
    export: Annotated[
        Path | None, typer.Option(help="Also write the weights folder here (e.g. model/champion).")
    ] = None,
) -> None:
    """Train the CNN, log the run to MLflow and register a new version of the model."""
    from model import registry
    from model.dataset import DatasetError
    from model.evaluation import format_report, format_sources
    from model.training import train as run_training

    settings = get_settings()
    config = TrainConfig(
        data=data,
        n_train=n_train,
        n_test=n_test,
        epochs=epochs,
        image_size=image_size,
        batch_size=batch_size,
        seed=seed,
        threads=threads,
        folds=folds,
    )
    try:
        result = run_training(config, settings, export)
    except DatasetError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    cross = result.metrics.get("leave_source_out")
    if cross:
        typer.echo("leave-source-out (every corpus source judged by a model that never saw it):")
        typer.echo(format_report(cross))
        typer.echo(format_sources(cross))
        typer.echo(
            f"expected calibration error (15 bins): {cross['ece_before']:.4f} before, "
            f"{cross['ece_after']:.4f} after calibration (temperature {cross['temperature']:.3f})\n"
        )
    typer.echo("synthetic held-out split:")
    typer.echo(format_report(result.metrics))
    typer.echo(f"\nregistered {settings.model_name} version {result.version} (run {result.run_id})")
    if promote_to:
        registry.promote(registry.configure(settings), settings.model_name, result.version, promote_to)
        typer.echo(f"alias {promote_to} -> version {result.version}")


@model_app.command("list")
def list_versions(as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False) -> None:
    """Versions of the registered model with their aliases and accuracy: `test` on the synthetic held-out
    split, `lso` leave-source-out on the corpus (a model that never saw each source)."""
    from model import registry

    settings = get_settings()
    found = registry.versions(registry.configure(settings), settings.model_name)
    if not found and not as_json:
        typer.echo(f"no versions of {settings.model_name} yet (stylecat model bootstrap)")
    for info in found:
        if as_json:
            typer.echo(json.dumps({**asdict(info), "aliases": list(info.aliases)}))
            continue
        test, lso = (info.metrics.get(key) for key in ("test_accuracy", "lso_accuracy"))
        typer.echo(
            f"version {info.version:>4}  aliases {','.join(info.aliases) or '-':<20}"
            f"  test_accuracy {_figure(test)}  lso_accuracy {_figure(lso)}"
            f"  {'shipped ' + info.shipped if info.shipped else 'run ' + str(info.run_id)}"
        )


def _figure(value: float | None) -> str:
    return f"{value:.4f}" if value is not None else "     -"


@model_app.command("bootstrap")
def bootstrap() -> None:
    """Register the shipped models the registry lacks (v1 synthetic-only, then the corpus champion) and
    point `champion` at the newest unless a trained model was promoted by hand."""
    from model import registry

    settings = get_settings()
    resolved = registry.ensure_champion(registry.configure(settings), settings.model_name)
    typer.echo(f"{resolved.name}@champion -> version {resolved.version}")


@model_app.command("evaluate")
def evaluate(
    model: Annotated[
        str | None, typer.Option(help="models:/... URI or a weights folder; default: the setting.")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Labelled folder; default: the held-out synthetic split.")] = None,
    n: Annotated[int, typer.Option(min=4, help="Held-out synthetic images.")] = 2_000,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Accuracy, per-class precision/recall/F1 and the confusion matrix."""
    from core.threads import model_threads
    from model.dataset import TEST_SEED, DatasetError, folder_split, synthetic_split
    from model.evaluation import format_report, predict_labels, report
    from model.predictor import StylePredictor

    settings = get_settings()
    uri = model or settings.model_uri
    threads = model_threads(settings, 1)
    if Path(uri).is_dir():
        predictor = StylePredictor.load(Path(uri), threads)
    else:
        from model import registry

        predictor = registry.load_predictor(
            registry.resolve_serving(registry.configure(settings), uri, settings.model_name), threads
        )
    try:
        if data is None:
            pixels, labels = synthetic_split(n, TEST_SEED, predictor.image_size)
        else:
            pixels, labels, _ = folder_split(data, predictor.image_size)
    except DatasetError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    result = report(labels, predict_labels(predictor, pixels))
    typer.echo(json.dumps({"model": uri, **result}) if as_json else format_report(result))
