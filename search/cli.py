"""CLI: `stylecat index [--rebuild]`."""

from typing import Annotated

import typer
from tqdm import tqdm

from core.settings import get_settings


def index(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build a new index and swap the alias.")] = False,
) -> None:
    """Index what the outbox says is pending, or rebuild the whole index with zero downtime."""
    from db.session import session_scope
    from search.client import get_client
    from search.indexer import index_pending
    from search.rebuild import rebuild as run_rebuild

    settings = get_settings()
    if rebuild:
        with tqdm(unit="doc", desc="copied") as bar:
            name = run_rebuild(
                session_factory=session_scope,
                client=get_client(),
                alias=settings.opensearch_index,
                late_commit_margin=settings.task_time_limit,
                on_batch=bar.update,
            )
        typer.echo(f"alias {settings.opensearch_index} now points at {name}")
        return
    report = index_pending(session_factory=session_scope, client=get_client(), alias=settings.opensearch_index)
    typer.echo(f"indexed {report.indexed}, already newer {report.stale}, errors {report.errors}")
    if report.errors:
        raise typer.Exit(1)
