"""Search at catalogue scale (#13 item 6): generated documents through the project's mapping into a
throw-away index, then each query shape the gallery and API use, straight against OpenSearch with
the project's query builder, and once through the search API for its overhead.

    .venv/bin/python -m bench.search_scale [--docs 100000] [--runs 50]

Ends with one JSON line: docs and the p95 of each shape in milliseconds.
"""

import argparse
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from opensearchpy import helpers

from core.settings import get_settings
from core.styles import STYLES
from search.client import get_client
from search.mapping import INDEX_BODY
from search.query import SearchRequest, search_bodies

INDEX = "stylecat-bench-scale"
WORDS = "cat dog fox owl tree house boat star moon sun cloud rain leaf rose city road".split()

SHAPES = {
    "facets_only": SearchRequest(),
    "style_filter": SearchRequest(styles=("flat",)),
    "query": SearchRequest(q="cat", styles=("flat", "3d"), min_confidence=0.6),
    "deep_page": SearchRequest(page=400, size=25),
}


def previous_body(request: SearchRequest) -> dict[str, Any]:
    """The query shape before this change, for a side-by-side figure: one request that scores and
    sorts every match by _score then id, counts the exact total, and filters styles after the facet."""
    filters: list[dict[str, Any]] = [{"term": {"status": "categorized"}}]
    if request.min_confidence is not None:
        filters.append({"range": {"confidence": {"gte": request.min_confidence}}})
    must = [{"match": {"title": {"query": request.q, "operator": "and"}}}] if request.q else [{"match_all": {}}]
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


def documents(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    for image_id in range(1, n + 1):
        probs = rng.dirichlet(np.ones(len(STYLES)))
        style = STYLES[int(np.argmax(probs))]
        yield {
            "_index": INDEX,
            "_id": str(image_id),
            "_source": {
                "id": image_id,
                "title": " ".join(rng.choice(WORDS, 3)),
                "status": "categorized",
                "style": style,
                "style_source": "model",
                "reviewed": bool(rng.random() < 0.05),
                "confidence": float(probs.max()),
                "probs": {s: float(p) for s, p in zip(STYLES, probs, strict=True)},
                "model_version": "2",
                "width": 800,
                "height": 600,
            },
        }


def p95_ms(run: Callable[[], object], runs: int) -> float:
    for _ in range(3):
        run()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    return round(float(np.percentile(timings, 95)), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    client = get_client()
    if client.indices.exists(index=INDEX):
        client.indices.delete(index=INDEX)
    loading = {**INDEX_BODY, "settings": {**INDEX_BODY["settings"], "refresh_interval": "-1"}}
    client.indices.create(index=INDEX, body=loading)
    started = time.perf_counter()
    for ok, item in helpers.streaming_bulk(client, documents(args.docs), chunk_size=5000, request_timeout=120):
        assert ok, item
    client.indices.put_settings(index=INDEX, body={"index": {"refresh_interval": "1s"}})
    client.indices.refresh(index=INDEX)
    client.indices.forcemerge(index=INDEX, max_num_segments=1, request_timeout=600)
    print(f"indexed {args.docs} documents in {time.perf_counter() - started:.0f} s")

    figures: dict[str, object] = {"docs": args.docs}
    for name, request in SHAPES.items():
        run = lambda r=request: client.msearch(index=INDEX, body=search_bodies(r))  # noqa: E731
        figures[f"p95_ms_{name}"] = p95_ms(run, args.runs)
        uncached = lambda r=request: client.msearch(index=INDEX, body=search_bodies(r, cache=False))  # noqa: E731
        figures[f"uncached_p95_ms_{name}"] = p95_ms(uncached, args.runs)
        before = lambda r=request: client.search(index=INDEX, body=previous_body(r), request_cache=False)  # noqa: E731
        figures[f"previous_p95_ms_{name}"] = p95_ms(before, args.runs)

    os.environ["STYLECAT_OPENSEARCH_INDEX"] = INDEX
    get_settings.cache_clear()
    from fastapi.testclient import TestClient

    from stylecat.api import app

    api = TestClient(app)
    direct = p95_ms(lambda: client.msearch(index=INDEX, body=search_bodies(SHAPES["query"])), args.runs)
    params = {"q": "cat", "style": ["flat", "3d"], "min_confidence": 0.6}
    through_api = p95_ms(lambda: api.get("/search", params=params), args.runs)
    figures["api_overhead_p95_ms"] = round(max(0.0, through_api - direct), 1)
    client.indices.delete(index=INDEX)
    for key, value in figures.items():
        print(f"{key:<24}{value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
