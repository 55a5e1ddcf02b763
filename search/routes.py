"""GET /search: filter by style, confidence, review and text, with style facet counts."""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from opensearchpy.exceptions import NotFoundError

from search.client import get_client
from search.query import MAX_RESULT_WINDOW, SearchRequest, build_body, parse_response
from stylecat.deps import SettingsDep
from stylecat.styles import STYLES

router = APIRouter(tags=["search"])

StyleParam = Annotated[list[str], Query(max_length=len(STYLES), description=f"any of {', '.join(STYLES)}")]


@router.get("/search", responses={422: {}})
def search(
    settings: SettingsDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    style: StyleParam = [],  # noqa: B006  (FastAPI copies defaults)
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    reviewed: bool | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    unknown = sorted(set(style) - set(STYLES))
    if unknown:
        raise HTTPException(422, {"code": "unknown_style", "message": f"unknown style {unknown}; use {list(STYLES)}"})
    if page * size > MAX_RESULT_WINDOW:
        raise HTTPException(422, {"code": "page_too_deep", "message": f"page * size must be <= {MAX_RESULT_WINDOW}"})
    request = SearchRequest(q=q, styles=tuple(dict.fromkeys(style)), min_confidence=min_confidence,
                            reviewed=reviewed, page=page, size=size)
    try:
        response = get_client().search(index=settings.opensearch_index, body=build_body(request))
    except NotFoundError:  # nothing indexed yet
        return {"total": 0, "hits": [], "facets": {"style": dict.fromkeys(STYLES, 0)}}
    return parse_response(response)
