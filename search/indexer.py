"""PostgreSQL → OpenSearch from the outbox columns, never from in-memory events.

A row needs indexing while `indexed_version < index_version`. Each batch is one bulk request with
`version_type=external` and `version = index_version`, so a stale write can never overwrite a newer
document: OpenSearch answers 409, which means "already newer" and counts as done. A document
OpenSearch rejects for good (a 4xx other than 409 and 429) is parked: `index_parked_version` and
`index_error` say which version and why, and the next write to the row (a new version) retries it.
"""

import json
import logging
from dataclasses import dataclass

from opensearchpy import OpenSearch
from sqlalchemy import ColumnElement, bindparam, func, select, update
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
    parked: int = 0
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


PARK = frozenset(range(400, 500)) - {409, 429}
"""Per-document answers that another try cannot change (a mapping conflict, a malformed value):
the row is parked with the error until a later write gives it a new version."""


def _pending() -> ColumnElement[bool]:
    return (Image.indexed_version < Image.index_version) & (Image.index_parked_version < Image.index_version)


def index_batch(
    *, session_factory: SessionFactory, client: OpenSearch, alias: str, batch_size: int = 500
) -> IndexReport:
    """Index one batch of pending rows: read them in one short transaction, send the bulk request
    with no transaction open (no row is locked while OpenSearch answers, however slowly), and mark
    the results in another. A row marked with the version it was sent at stays pending if a write
    moved it meanwhile; two indexers sending the same row are harmless (external versioning)."""
    report = IndexReport()
    with session_factory() as session:
        images = session.scalars(select(Image).where(_pending()).order_by(Image.id).limit(batch_size)).all()
        body = bulk_body(list(images), alias)
        sent = {image.id: image.index_version for image in images}
    if not sent:
        return report
    ensure_alias(client, alias)
    # refresh: searchable now rather than at the next refresh interval; runs are debounced and
    # bounded, so this is a few refreshes a second at most
    response = client.bulk(body=body, refresh=True)
    done: list[dict[str, object]] = []
    parked: list[dict[str, object]] = []
    for item in response["items"]:
        result = item["index"]
        image_id = int(result["_id"])
        if result["status"] in (200, 201):
            report.indexed += 1
        elif result["status"] == 409:
            report.stale += 1  # OpenSearch already holds this version or a newer one
        else:
            report.errors += 1
            log.warning("indexing image %s failed (%s): %s", image_id, result["status"], result.get("error"))
            if result["status"] in PARK:
                error = json.dumps(result.get("error"))[:2000]
                parked.append({"b_id": image_id, "b_version": sent[image_id], "b_error": error})
            continue
        done.append({"b_id": image_id, "b_version": sent[image_id]})
    with session_factory() as session:
        indexed = func.greatest(Image.indexed_version, bindparam("b_version"))
        _mark(session, done, indexed_version=indexed, index_error=None)
        parked_at = func.greatest(Image.index_parked_version, bindparam("b_version"))
        _mark(session, parked, index_parked_version=parked_at, index_error=bindparam("b_error"))
    report.parked = len(parked)
    return report


def _mark(session: Session, rows: list[dict[str, object]], **values: object) -> None:
    """One statement for the rows; updated_at is left alone (it is the sweeper's clock)."""
    if rows:
        statement = update(Image).where(Image.id == bindparam("b_id")).values(**values, updated_at=Image.updated_at)
        session.connection().execute(statement, rows)


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
        report = index_batch(session_factory=session_factory, client=client, alias=alias, batch_size=batch_size)
        total.indexed += report.indexed
        total.stale += report.stale
        total.errors += report.errors
        total.parked += report.parked
        batches += 1
        if report.indexed + report.stale + report.parked == 0:
            return total
        if max_batches is not None and batches >= max_batches:
            total.more = True
            return total
