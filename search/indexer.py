"""PostgreSQL → OpenSearch from the outbox columns, never from in-memory events.

A row needs indexing while `indexed_version < index_version`. Each batch is one bulk request with
`version_type=external` and `version = index_version`, so a stale write can never overwrite a newer
document: OpenSearch answers 409, which means "already newer" and counts as done.
"""

import logging
from dataclasses import dataclass

from opensearchpy import OpenSearch
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from db.models import Image
from db.session import SessionFactory
from search.mapping import document, ensure_alias

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    indexed: int = 0
    stale: int = 0
    errors: int = 0
    more: bool = False


def bulk_body(images: list[Image], index: str) -> list[dict[str, object]]:
    body: list[dict[str, object]] = []
    for image in images:
        body.append(
            {
                "index": {
                    "_index": index,
                    "_id": str(image.id),
                    "version": image.index_version,
                    "version_type": "external",
                }
            }
        )
        body.append(document(image))
    return body


def index_batch(*, session: Session, client: OpenSearch, alias: str, batch_size: int = 500) -> IndexReport:
    """Index one batch of pending rows (locked, so parallel indexers take different rows)."""
    report = IndexReport()
    images = session.scalars(
        select(Image)
        .where(Image.indexed_version < Image.index_version)
        .order_by(Image.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    ).all()
    if not images:
        return report
    ensure_alias(client, alias)
    # refresh: searchable now rather than at the next refresh interval; runs are debounced and
    # bounded, so this is a few refreshes a second at most
    response = client.bulk(body=bulk_body(list(images), alias), refresh=True)
    by_id = {image.id: image for image in images}
    done: list[dict[str, int]] = []
    for item in response["items"]:
        result = item["index"]
        image = by_id[int(result["_id"])]
        if result["status"] in (200, 201):
            report.indexed += 1
        elif result["status"] == 409:
            report.stale += 1  # OpenSearch already holds this version or a newer one
        else:
            report.errors += 1
            log.warning("indexing image %s failed: %s", image.id, result.get("error"))
            continue
        done.append({"b_id": image.id, "b_version": image.index_version})
    if done:  # one statement for the batch; updated_at is left alone (it is the sweeper's clock)
        session.connection().execute(
            update(Image)
            .where(Image.id == bindparam("b_id"))
            .values(
                indexed_version=func.greatest(Image.indexed_version, bindparam("b_version")),
                updated_at=Image.updated_at,
            ),
            done,
        )
    return report


def index_pending(
    *,
    session_factory: SessionFactory,
    client: OpenSearch,
    alias: str,
    batch_size: int = 500,
    max_batches: int | None = None,
) -> IndexReport:
    """Index batches, one transaction each, until nothing is pending, a batch only had errors, or
    `max_batches` ran (then `more` is set: a worker shared with live tasks must not be monopolised)."""
    total = IndexReport()
    batches = 0
    while True:
        with session_factory() as session:
            report = index_batch(session=session, client=client, alias=alias, batch_size=batch_size)
        total.indexed += report.indexed
        total.stale += report.stale
        total.errors += report.errors
        batches += 1
        if report.indexed + report.stale == 0:
            return total
        if max_batches is not None and batches >= max_batches:
            total.more = True
            return total
