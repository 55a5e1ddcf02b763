"""The index behind the search alias: `style` is a keyword (filters and the terms facet), one float
field per style probability, and a text field for `q`."""

from datetime import UTC, datetime
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import RequestError

from core.styles import STYLES
from db.models import Image

INDEX_BODY: dict[str, Any] = {
    # sorted by id, newest first: a page of the newest hits is read without visiting every match
    "settings": {
        "number_of_shards": 1,
        "number_of_replicas": 0,
        "refresh_interval": "1s",
        "sort.field": "id",
        "sort.order": "desc",
    },
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "id": {"type": "long"},
            "title": {"type": "text"},
            "status": {"type": "keyword"},
            "style": {"type": "keyword"},
            "style_source": {"type": "keyword"},
            "reviewed": {"type": "boolean"},
            "confidence": {"type": "float"},
            "probs": {"properties": {style: {"type": "float"} for style in STYLES}},
            "model_version": {"type": "keyword"},
            "width": {"type": "integer"},
            "height": {"type": "integer"},
            "created_at": {"type": "date"},
            "predicted_at": {"type": "date"},
        },
    },
}


def document(image: Image) -> dict[str, Any]:
    return {
        "id": image.id,
        "title": image.title,
        "status": image.status,
        "style": image.style,
        "style_source": image.style_source,
        "reviewed": image.style_source == "review",
        "confidence": image.confidence,
        "probs": image.style_probs,
        "model_version": image.model_version,
        "width": image.width,
        "height": image.height,
        "created_at": image.created_at.isoformat() if image.created_at else None,
        "predicted_at": image.predicted_at.isoformat() if image.predicted_at else None,
    }


def new_index_name(alias: str) -> str:
    return f"{alias}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"


def ensure_alias(client: OpenSearch, alias: str) -> str:
    """Create a first index behind `alias` if there is none; return the index the alias points at.
    The alias comes once the index's primary shard has started: until then a search through it
    would fail (503, no shard available), where no alias at all reads as "nothing indexed yet"."""
    if not client.indices.exists_alias(name=alias):
        initial = f"{alias}-initial"
        try:  # a fixed first name, so that two processes racing here create one index, not two
            client.indices.create(index=initial, body=INDEX_BODY)
        except RequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
        client.cluster.health(index=initial, wait_for_status="yellow")  # 30 s at most; the racer's index too
        client.indices.put_alias(index=initial, name=alias)
    return next(iter(client.indices.get_alias(name=alias)))
