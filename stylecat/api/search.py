"""GET /search: filter by style, confidence, review and text, with style facet counts."""

from typing import Annotated

from fastapi import APIRouter, Query
from opensearchpy.exceptions import NotFoundError, TransportError

from core.settings import Settings
from core.styles import STYLES
from search.client import get_client
from search.query import MAX_RESULT_WINDOW, SearchRequest, parse_responses, search_bodies
from stylecat.api.deps import SettingsDep
from stylecat.api.errors import ApiError
from stylecat.api.schemas import SearchOut, errors

router = APIRouter(tags=["search"])

StyleParam = Annotated[list[str], Query(max_length=len(STYLES), description=f"any of {', '.join(STYLES)}")]


@router.get("/search", response_model=SearchOut, responses=errors(422, 503))
def search(
    settings: SettingsDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    style: StyleParam = [],  # noqa: B006  (FastAPI copies defaults)
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    reviewed: bool | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchOut:
    return run_search(search_request(q, style, min_confidence, reviewed, page, size), settings)


def search_request(
    q: str | None, style: list[str], min_confidence: float | None, reviewed: bool | None, page: int, size: int
) -> SearchRequest:
    """The checks beyond the parameters' own types (the web gallery asks through here too)."""
    unknown = sorted(set(style) - set(STYLES))
    if unknown:
        raise ApiError(422, "unknown_style", f"unknown style {unknown}; use {list(STYLES)}")
    if page * size > MAX_RESULT_WINDOW:
        raise ApiError(422, "page_too_deep", f"page * size must be <= {MAX_RESULT_WINDOW}")
    return SearchRequest(
        q=q, styles=tuple(dict.fromkeys(style)), min_confidence=min_confidence, reviewed=reviewed, page=page, size=size
    )


def run_search(request: SearchRequest, settings: Settings) -> SearchOut:
    nothing = SearchOut(total=0, hits=[], facets={"style": dict.fromkeys(STYLES, 0)})  # type: ignore[arg-type]
    try:
        answers = get_client().msearch(index=settings.opensearch_index, body=search_bodies(request))["responses"]
    except NotFoundError:  # nothing indexed yet
        return nothing
    for answer in answers:
        if "error" in answer:  # msearch reports each request's failure in its place
            if answer.get("status") == 404:  # nothing indexed yet
                return nothing
            raise TransportError(answer.get("status", 500), str(answer["error"].get("type", "error")), answer)
    return SearchOut.model_validate(parse_responses(request, answers))
