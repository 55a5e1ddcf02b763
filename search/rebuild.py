"""`stylecat index --rebuild`: a new index filled from PostgreSQL, then an atomic alias swap.

Search keeps reading the old index until the swap. Rows written while the copy ran are sent again
afterwards (external versions keep the newer document whichever write lands last).
"""

from collections.abc import Callable
from datetime import timedelta

from opensearchpy import OpenSearch
from sqlalchemy import func, select

from db.models import Image
from db.session import SessionFactory
from search.indexer import bulk_body
from search.mapping import INDEX_BODY, new_index_name


def _copy(
    *,
    session_factory: SessionFactory,
    client: OpenSearch,
    index: str,
    batch_size: int,
    since: object = None,
    on_batch: Callable[[int], None] = lambda n: None,
) -> int:
    copied, last = 0, 0
    while True:
        with session_factory() as session:
            query = select(Image).where(Image.id > last).order_by(Image.id).limit(batch_size)
            if since is not None:
                query = query.where(Image.updated_at >= since)
            images = list(session.scalars(query))
        if not images:
            return copied
        response = client.bulk(body=bulk_body(images, index))
        failures = [item["index"] for item in response["items"] if item["index"]["status"] not in (200, 201, 409)]
        if failures:
            raise RuntimeError(f"{len(failures)} documents failed, first: {failures[0].get('error')}")
        copied += len(images)
        last = images[-1].id
        on_batch(len(images))


def rebuild(
    *,
    session_factory: SessionFactory,
    client: OpenSearch,
    alias: str,
    batch_size: int = 1000,
    late_commit_margin: float = 600,
    on_batch: Callable[[int], None] = lambda n: None,
) -> str:
    """Build a new index behind `alias` with zero downtime; return its name."""
    index = new_index_name(alias)
    body = {**INDEX_BODY, "settings": {**INDEX_BODY["settings"], "refresh_interval": "-1"}}
    client.indices.create(index=index, body=body)
    with session_factory() as session:
        # `now()` is a transaction's start: writes that began before the copy may commit during it
        started = session.scalar(select(func.now() - timedelta(seconds=late_commit_margin)))
    _copy(session_factory=session_factory, client=client, index=index, batch_size=batch_size, on_batch=on_batch)
    client.indices.put_settings(
        index=index, body={"index": {"refresh_interval": INDEX_BODY["settings"]["refresh_interval"]}}
    )
    client.indices.refresh(index=index)

    old = list(client.indices.get_alias(name=alias)) if client.indices.exists_alias(name=alias) else []
    actions = [{"remove": {"index": name, "alias": alias}} for name in old] + [
        {"add": {"index": index, "alias": alias}}
    ]
    client.indices.update_aliases(body={"actions": actions})
    _copy(session_factory=session_factory, client=client, index=alias, batch_size=batch_size, since=started)
    for name in old:
        client.indices.delete(index=name)
    return index
