"""Search requests as structured query parts (never string-built DSL), with standard faceting:
the style facet follows every filter except the style filter itself.

One search is two requests in one `msearch`: the facet counts (no hits, so OpenSearch's request
cache answers repeats until the next refresh) and one page of hits (no total counted: the total
follows exactly from the facets)."""

from dataclasses import dataclass
from typing import Any

from core.styles import STYLES

MAX_RESULT_WINDOW = 10_000  # OpenSearch's index.max_result_window
_STYLE_TERMS = {"terms": {"field": "style", "size": len(STYLES)}}


@dataclass(frozen=True)
class SearchRequest:
    q: str | None = None
    styles: tuple[str, ...] = ()
    min_confidence: float | None = None
    reviewed: bool | None = None
    page: int = 1
    size: int = 20


def _query(request: SearchRequest) -> dict[str, Any]:
    """Every filter but the style filter (the facet follows these). Without text, nothing is scored."""
    filters: list[dict[str, Any]] = [{"term": {"status": "categorized"}}]
    if request.min_confidence is not None:
        filters.append({"range": {"confidence": {"gte": request.min_confidence}}})
    if request.reviewed is not None:
        filters.append({"term": {"reviewed": request.reviewed}})
    if request.q:
        return {"bool": {"must": [{"match": {"title": {"query": request.q, "operator": "and"}}}], "filter": filters}}
    return {"bool": {"filter": filters}}


def facets_body(request: SearchRequest) -> dict[str, Any]:
    """The style counts: no hits, so OpenSearch's request cache keeps the answer until the next
    refresh (the gallery's first page asks the same question again and again)."""
    return {"query": _query(request), "size": 0, "track_total_hits": False, "aggs": {"style": _STYLE_TERMS}}


def hits_body(request: SearchRequest) -> dict[str, Any]:
    """One page of hits, newest first (best match first when there is text). No total is counted
    here: it follows exactly from the facets (`parse_responses`). With no text, the index is kept
    sorted by id, newest first, so a page is read without visiting every match."""
    query = _query(request)
    if request.styles:
        query = {"bool": {"must": [query], "filter": [{"terms": {"style": list(request.styles)}}]}}
    return {
        "query": query,
        "from": (request.page - 1) * request.size,
        "size": request.size,
        "track_total_hits": False,
        "sort": ["_score", {"id": "desc"}] if request.q else [{"id": "desc"}],
    }


def search_bodies(request: SearchRequest, cache: bool = True) -> list[dict[str, Any]]:
    """The `msearch` body: the facets request (cacheable) and the hits request, run together."""
    return [{"request_cache": cache}, facets_body(request), {}, hits_body(request)]


def parse_responses(request: SearchRequest, responses: list[dict[str, Any]]) -> dict[str, Any]:
    facets_response, hits_response = responses
    buckets = {bucket["key"]: bucket["doc_count"] for bucket in facets_response["aggregations"]["style"]["buckets"]}
    facets = {style: buckets.get(style, 0) for style in STYLES}
    return {
        "total": sum(facets[style] for style in (request.styles or STYLES)),
        "hits": [hit["_source"] for hit in hits_response["hits"]["hits"]],
        "facets": {"style": facets},
    }
