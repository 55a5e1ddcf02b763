"""CLI: `stylecat dataset build | sheets | sources`."""

from pathlib import Path
from typing import Annotated

import typer

from core.settings import get_settings

dataset_app = typer.Typer(help="The training corpus of real, human-made illustrations.", no_args_is_help=True)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@dataset_app.command("build")
def build(
    folder: Annotated[
        Path, typer.Argument(help="Output folder: DIR/<style>/<source>--<n>.<ext>, manifest, attribution.")
    ],
    per_source: Annotated[int, typer.Option(min=1, help="Images per source (fewer if the source has fewer).")] = 400,
    seed: Annotated[int, typer.Option(help="Chooses the artworks and how they are presented.")] = 1,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only these sources (repeatable).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Rendering processes.")] = 2,
    overwrite: Annotated[bool, typer.Option(help="Replace a corpus already in FOLDER.")] = False,
) -> None:
    """Download the pinned art packages (cached), render them as uploads look, write the corpus."""
    from model.corpus.build import CorpusError
    from model.corpus.build import build as run_build
    from model.corpus.packages import PackageError
    from model.corpus.sources import by_name

    try:
        chosen = by_name(source)
        written, failures = run_build(
            folder,
            chosen,
            cache=get_settings().cache_dir,
            per_source=per_source,
            seed=seed,
            overwrite=overwrite,
            workers=workers,
        )
    except (CorpusError, PackageError, ValueError) as exc:
        _fail(str(exc))
    for failure in failures:
        typer.secho(f"skipped: {failure}", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"{written} images from {len(chosen)} sources in {folder} (manifest.csv, ATTRIBUTION.md)")


@dataset_app.command("sheets")
def sheets(
    folder: Annotated[Path, typer.Argument(help="A corpus folder.")],
    out: Annotated[Path | None, typer.Option(help="Where the sheets go; default: FOLDER/.sheets")] = None,
    per_sheet: Annotated[int, typer.Option(min=1, max=400)] = 48,
) -> None:
    """One contact sheet (a PNG grid) per source, to check its label by eye."""
    from model.corpus.sheets import contact_sheets
    from model.dataset import DatasetError

    try:
        written = contact_sheets(folder, out or folder / ".sheets", per_sheet)
    except DatasetError as exc:
        _fail(str(exc))
    for path in written:
        typer.echo(str(path))


@dataset_app.command("sources")
def sources() -> None:
    """The pinned sources: style, package, version, licence."""
    from model.corpus.sources import SOURCES

    for s in SOURCES:
        typer.echo(f"{s.name:<18} {s.style:<11} {s.kind:<9} {s.package} {s.version}  ({s.licence})")
