"""Search requests as structured query parts (never string-built DSL), with standard faceting:
the style facet follows every filter except the style filter itself."""

from dataclasses import dataclass
from typing import Any

from core.styles import STYLES

MAX_RESULT_WINDOW = 10_000  # OpenSearch's index.max_result_window


@dataclass(frozen=True)
class SearchRequest:
    q: str | None = None
    styles: tuple[str, ...] = ()
    min_confidence: float | None = None
    reviewed: bool | None = None
    page: int = 1
    size: int = 20


def build_body(request: SearchRequest) -> dict[str, Any]:
    filters: list[dict[str, Any]] = [{"term": {"status": "categorized"}}]
    if request.min_confidence is not None:
        filters.append({"range": {"confidence": {"gte": request.min_confidence}}})
    if request.reviewed is not None:
        filters.append({"term": {"reviewed": request.reviewed}})
    must: list[dict[str, Any]] = (
        [{"match": {"title": {"query": request.q, "operator": "and"}}}] if request.q else [{"match_all": {}}]
    )
    body: dict[str, Any] = {
        "query": {"bool": {"must": must, "filter": filters}},
        "aggs": {"style": {"terms": {"field": "style", "size": len(STYLES)}}},
        "from": (request.page - 1) * request.size,
        "size": request.size,
        "track_total_hits": True,
        "sort": ["_score", {"id": "desc"}],
    }
    if request.styles:
        body["post_filter"] = {"terms": {"style": list(request.styles)}}
    return body


def parse_response(response: dict[str, Any]) -> dict[str, Any]:
    buckets = {bucket["key"]: bucket["doc_count"] for bucket in response["aggregations"]["style"]["buckets"]}
    return {
        "total": response["hits"]["total"]["value"],
        "hits": [hit["_source"] for hit in response["hits"]["hits"]],
        "facets": {"style": {style: buckets.get(style, 0) for style in STYLES}},
    }
