"""CLI of the model lifecycle: `stylecat retrain` and `stylecat model compare | promote | rollback`."""

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from core.settings import get_settings
from model.training_config import TrainConfig

Synthetic = Annotated[
    int, typer.Option("--n", min=4, help="Synthetic held-out images, when STYLECAT_EVALUATION_DATA is unset.")
]


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def compare(
    a: Annotated[str, typer.Argument(help="A version or an alias.")] = "champion",
    b: Annotated[str, typer.Argument(help="A version or an alias.")] = "challenger",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    n: Synthetic = 1_000,
) -> None:
    """Two versions on the evaluation set and the held-out reviews (accuracy, per-class recall, ms per
    image), their shadow agreement and canary share in production, and where B falls short of A."""
    from db.session import session_scope
    from model import registry
    from producer import lifecycle

    settings = get_settings()
    client = registry.configure(settings)
    try:
        first, second = (lifecycle.version_of(client, settings.model_name, ref) for ref in (a, b))
    except lifecycle.LifecycleError as exc:
        _fail(str(exc))
    with session_scope() as session:
        comparison = lifecycle.compare(
            client=client, session=session, settings=settings, champion=first, challenger=second, n_synthetic=n
        )
    if as_json:
        typer.echo(json.dumps(comparison.as_json()))
        return
    typer.echo(_table(comparison.as_json()))


def _table(found: dict[str, object]) -> str:
    lines = []
    sets = found["sets"]
    assert isinstance(sets, dict)
    for version, by_set in sets.items():
        for name, figures in by_set.items():
            recall = "  ".join(f"{style} {value:.3f}" for style, value in figures["recall"].items())
            lines.append(
                f"version {version:>4}  {name:<17} n {figures['n']:>5}  accuracy {figures['accuracy']:.4f}"
                f"  recall {recall}  {figures['ms_per_image']:.2f} ms/img"
            )
    lines.append(f"production: {json.dumps(found['production'])}")
    shortfalls = found["shortfalls"]
    assert isinstance(shortfalls, list)
    lines += [f"version {found['challenger']} falls short: {s}" for s in shortfalls] or [
        f"version {found['challenger']} passes every gate against version {found['champion']}"
    ]
    return "\n".join(lines)


def promote(
    target: Annotated[str, typer.Argument(help="A version, or an alias such as `challenger`.")],
    alias: Annotated[str, typer.Option(help="Alias to move; consumers follow it.")] = "champion",
    force: Annotated[bool, typer.Option("--force", help="Promote even if it falls short of the champion.")] = False,
    n: Synthetic = 1_000,
) -> None:
    """Point ALIAS at TARGET. For `champion`, TARGET must first pass the gates against the champion
    (see `model compare`); the old champion keeps alias `previous` (`model rollback` restores it)."""
    from db.session import session_scope
    from model import registry
    from producer import lifecycle

    settings = get_settings()
    client = registry.configure(settings)
    try:
        if alias != lifecycle.CHAMPION:
            version = lifecycle.version_of(client, settings.model_name, target)
            before = registry.promote(client, settings.model_name, version, alias)
            typer.echo(f"alias {alias}: {before or 'unset'} -> {version}")
            return
        with session_scope() as session:
            done = lifecycle.promote(
                client=client, session=session, settings=settings, target=target, force=force, n_synthetic=n
            )
    except lifecycle.LifecycleError as exc:
        _fail(str(exc))
    if done.comparison is not None:
        typer.echo(_table(done.comparison.as_json()))
    if done.refused:
        _fail(f"version {done.version} falls short of champion {done.previous}; not promoted (--force overrides)")
    typer.echo(f"alias champion: {done.previous or 'unset'} -> {done.version}")
    if done.previous:
        typer.echo(
            f"alias previous -> {done.previous} (undo: stylecat model rollback); re-categorize what it served: "
            f"stylecat backfill --model-version {done.version}"
        )


def rollback() -> None:
    """Point `champion` back at `previous` (the champion before the last promotion)."""
    from model import registry
    from producer import lifecycle

    settings = get_settings()
    try:
        before, restored = lifecycle.rollback(client=registry.configure(settings), name=settings.model_name)
    except lifecycle.LifecycleError as exc:
        _fail(str(exc))
    typer.echo(f"alias champion: {before} -> {restored}; alias previous -> {before}")


def retrain(
    data: Annotated[
        Path | None, typer.Option(help="The corpus (`stylecat dataset build`) to train on beside the reviews.")
    ] = None,
    holdout: Annotated[
        float, typer.Option(min=0, max=0.9, help="Share of reviewed images held out (by id) to score it on.")
    ] = 0.2,
    review_weight: Annotated[
        float, typer.Option(min=1, help="How much more often a reviewed image is drawn than a corpus image.")
    ] = TrainConfig.review_weight,
    fine_tune: Annotated[
        bool, typer.Option(help="Start from the champion's weights (--no-fine-tune: from random weights).")
    ] = True,
    epochs: Annotated[int, typer.Option(min=1)] = 4,
    lr: Annotated[float, typer.Option(min=1e-6, help="Peak learning rate.")] = 1e-3,
    batch_size: Annotated[int, typer.Option(min=2)] = TrainConfig.batch_size,
    n_train: Annotated[int, typer.Option(min=8, help="Synthetic training images mixed in.")] = 1_000,
    n_test: Annotated[int, typer.Option(min=4, help="Synthetic held-out images the run reports.")] = 500,
    folds: Annotated[int, typer.Option(min=0, help="Leave-source-out folds over --data's sources.")] = 0,
    threads: Annotated[int, typer.Option(min=1, help="Torch threads.")] = TrainConfig.threads,
    n: Synthetic = 1_000,
) -> None:
    """Train a new version on the reviews (and --data), register it as the challenger, and compare it
    with the champion on the evaluation set and the held-out reviews."""
    from db.session import session_scope
    from model.dataset import DatasetError
    from producer import lifecycle
    from producer.retrain import retrain as run_retrain

    config = TrainConfig(
        data=data,
        review_weight=review_weight,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        n_train=n_train,
        n_test=n_test,
        folds=folds,
        threads=threads,
    )
    try:
        done = run_retrain(
            session_factory=session_scope,
            settings=get_settings(),
            config=config,
            holdout=holdout,
            fine_tune=fine_tune,
            n_synthetic=n,
        )
    except (lifecycle.LifecycleError, DatasetError) as exc:
        _fail(str(exc))
    for line in done.missing:
        typer.secho(f"not trained on: {line}", fg=typer.colors.YELLOW, err=True)
    typer.echo(
        f"trained on {len(done.trained)} reviewed images ({len(done.held_out)} held out); "
        f"registered version {done.version} with alias challenger"
    )
    typer.echo(_table(done.comparison.as_json()))
    typer.echo(
        "next: shadow it (STYLECAT_SHADOW_FRACTION), then `stylecat model promote challenger`"
        if not done.comparison.shortfalls
        else "it falls short of the champion: see above"
    )


def status(as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False) -> None:
    """The aliases, the shadow and canary fractions, and each canary's state: running with its
    signals (failure rate, disagreement with reviews), or halted, when and why."""
    from db.session import session_scope
    from model import registry
    from producer import lifecycle

    settings = get_settings()
    with session_scope() as session:
        found = lifecycle.status(client=registry.configure(settings), session=session, settings=settings)
    if as_json:
        typer.echo(json.dumps(found))
        return
    aliases = found["aliases"]
    typer.echo("  ".join(f"{alias} {version}" for alias, version in aliases.items()) or "no aliases")
    typer.echo(f"shadow fraction {found['shadow_fraction']}  canary fraction {found['canary_fraction']}")
    for canary in found["canaries"]:
        figures = json.dumps(canary["signals"])
        if canary["halted"]:
            halt = canary["halted"]
            typer.echo(
                f"canary version {canary['version']}: HALTED at {halt['at']}: {halt['reason']} "
                f"({halt['requeued']} images re-categorized)  {figures}"
            )
        else:
            typer.echo(f"canary version {canary['version']}: running  {figures}")
