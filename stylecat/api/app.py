"""The FastAPI app: every router, the request guard (limits.py), and the error handlers (one body shape,
see errors.py)."""

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from stylecat.api import docs, health, images, metrics, reviews, search, ui
from stylecat.api.errors import (
    RETRY,
    ApiError,
    database_busy,
    database_unavailable,
    error_response,
    handle_api_error,
)
from stylecat.api.limits import RequestGuard

app = FastAPI(
    title="stylecat",
    summary="Illustration styles, categorized in the background and searchable.",
    docs_url=None,  # served from the API's own files by docs.py: FastAPI's default pages need a CDN
    redoc_url=None,
)
for module in (images, reviews, search, health, metrics):
    app.include_router(module.router)
docs.mount(app)
ui.mount(app)
app.add_middleware(RequestGuard)
app.add_middleware(metrics.RequestTimer)  # added last: outermost, so refusals are timed too


@app.exception_handler(ApiError)
async def api_error(request: Request, exc: ApiError) -> Response:
    """The one error body; a web page gets the same error as a page."""
    if ui.is_page(request.url.path):
        return ui.error_page(request, exc.status, exc.code, [exc.message])
    return await handle_api_error(request, exc)


@app.exception_handler(RequestValidationError)
async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422 body for the API; a web page lists what is wrong with its address."""
    if ui.is_page(request.url.path):
        problems = [f"{'.'.join(str(part) for part in e['loc'][1:])}: {e['msg']}" for e in exc.errors()]
        return ui.error_page(request, 422, "invalid_request", problems)
    return await request_validation_exception_handler(request, exc)


@app.exception_handler(OperationalError)
async def database_down(request: Request, exc: OperationalError) -> Response:
    return await api_error(request, database_unavailable())


@app.exception_handler(PoolTimeout)
async def pool_exhausted(request: Request, exc: PoolTimeout) -> Response:
    return await api_error(request, database_busy())


@app.exception_handler(TransportError)
async def search_unavailable(_: Request, exc: TransportError) -> JSONResponse:
    """OpenSearch down, or up but not ready (shards still starting: its own 503): 503 to retry."""
    if isinstance(exc, OpenSearchConnectionError) or exc.status_code in (429, 502, 503, 504):
        return error_response(503, "search_unavailable", "OpenSearch is unavailable; retry", RETRY)
    return error_response(502, "search_failed", f"OpenSearch answered {exc.status_code}")
