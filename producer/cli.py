"""CLI commands of the producer: backfill, upload, the export of reviews and API keys."""

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from core.settings import get_settings
from db.models import Scope


def backfill(
    all_: Annotated[bool, typer.Option("--all", help="Every image.")] = False,
    failed: Annotated[bool, typer.Option("--failed", help="Images that failed (attempts start again).")] = False,
    model_version: Annotated[str | None, typer.Option(help="Images categorized by another version than V.")] = None,
    since: Annotated[datetime | None, typer.Option(help="Only images created since DATE.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most N images.")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, max=1000, help="Ids per task.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print how many would be enqueued.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Print counts per status and exit.")] = False,
) -> None:
    """Re-categorize the catalogue (default: images never categorized)."""
    from db.session import session_scope
    from producer.backfill import Criteria, Selection, count, status_counts
    from producer.backfill import backfill as run_backfill
    from worker.dispatch import enqueue_batch

    if status:
        with session_scope() as session:
            for name, n in status_counts(session=session).items():
                typer.echo(f"{name:<12}{n:>10}")
        return
    if sum([all_, failed, model_version is not None]) > 1:
        raise typer.BadParameter("choose one of --all, --failed, --model-version")
    selection = (
        Selection.ALL
        if all_
        else Selection.FAILED
        if failed
        else Selection.OTHER_VERSION
        if model_version
        else Selection.MISSING
    )
    criteria = Criteria(selection=selection, model_version=model_version, since=since, limit=limit)
    with session_scope() as session:
        total = count(session=session, criteria=criteria)
    if dry_run:
        typer.echo(f"{total} images would be enqueued ({selection.value})")
        return
    size = batch_size or get_settings().backfill_batch_size
    with tqdm(total=total, unit="img", desc="enqueued") as bar:
        sent = run_backfill(
            session_factory=session_scope,
            criteria=criteria,
            batch_size=size,
            send=lambda ids: enqueue_batch(ids, "backfill"),
            on_batch=bar.update,
        )
    typer.echo(f"enqueued {sent} images in batches of {size} on categorize.backfill")


def upload(
    paths: Annotated[list[Path], typer.Argument(exists=True, help="Files or folders of images.")],
    api: Annotated[str, typer.Option(help="Base URL of the stylecat API.")] = "http://127.0.0.1:8000",
    api_key: Annotated[str | None, typer.Option(help="A key with the upload scope; default STYLECAT_API_KEY.")] = None,
    title_from_filename: Annotated[
        bool, typer.Option(help="Publish each file's name (without extension) as its searchable title.")
    ] = False,
) -> None:
    """Upload files (folders are walked) through the HTTP API, with a progress bar."""
    import httpx

    from producer.upload_client import collect, upload_all

    files = collect(paths)
    if not files:
        raise typer.BadParameter("no image files found")
    key = api_key or get_settings().api_key.get_secret_value()
    if not key:
        raise typer.BadParameter(
            "uploads need an API key: pass --api-key or set STYLECAT_API_KEY "
            "(`stylecat keys create --scope upload` issues one)"
        )
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=api, timeout=60, headers=headers) as client, tqdm(total=len(files), unit="file") as bar:
        accepted, rejected = upload_all(client, files, on_done=lambda: bar.update(), titles=title_from_filename)
    for path, reason in rejected:
        typer.secho(f"rejected {path}: {reason}", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"accepted {len(accepted)}, rejected {len(rejected)}")
    if rejected:
        raise typer.Exit(1)


def export_reviews(
    folder: Annotated[Path, typer.Argument(help="Writes FOLDER/<style>/<image id>.<ext>.")],
) -> None:
    """Export human reviews as a labelled folder for `stylecat train --data FOLDER`."""
    from db.session import session_scope
    from producer.reviews import export

    with session_scope() as session:
        written, missing = export(session=session, folder=folder, settings=get_settings())
    for line in missing:
        typer.secho(f"not exported: {line}", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"exported {len(written)} reviewed images to {folder}")
    if missing:
        raise typer.Exit(1)


def create_key(
    scope: Annotated[list[Scope], typer.Option("--scope", help="upload and/or review (repeatable).")],
    name: Annotated[str, typer.Option(help="Who or what the key is for.")] = "default",
) -> None:
    """Issue an API key and print it as the last line: it is shown once, only its hash is stored."""
    from db.session import session_scope
    from producer.apikeys import create_key as issue

    with session_scope() as session:
        row, key = issue(session=session, name=name, scopes=scope)
        typer.echo(
            f"key {row.id} ({row.name}) with scopes {', '.join(row.scopes)}; send it as `Authorization: Bearer <key>`:",
            err=True,
        )
    typer.echo(key)


def list_keys() -> None:
    """List API keys (never the keys themselves)."""
    from db.session import session_scope
    from producer.apikeys import list_keys as rows

    with session_scope() as session:
        for row in rows(session=session):
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "live"
            typer.echo(f"{row.id:>5}  {row.name:<24} {','.join(row.scopes):<14} {state}")


def revoke_key(key_id: Annotated[int, typer.Argument(help="The id that `keys list` shows.")]) -> None:
    """Revoke an API key; requests with it get 401 from now on."""
    from db.session import session_scope
    from producer.apikeys import revoke

    with session_scope() as session:
        if not revoke(session=session, key_id=key_id):
            typer.secho(f"error: no live key {key_id}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1)
    typer.echo(f"revoked key {key_id}")
