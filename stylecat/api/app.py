"""The FastAPI app: every router, the body-size guard, and the error handlers (one body shape,
see errors.py)."""

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError
from sqlalchemy.exc import OperationalError

from core.settings import get_settings
from stylecat.api import health, images, search
from stylecat.api.errors import ApiError, error_response, handle_api_error

app = FastAPI(title="stylecat", summary="Illustration styles, categorized in the background and searchable.")
for module in (images, search, health):
    app.include_router(module.router)
app.add_exception_handler(ApiError, handle_api_error)

RETRY = {"Retry-After": "5"}


@app.exception_handler(OperationalError)
async def database_unavailable(_: Request, exc: OperationalError) -> JSONResponse:
    """PostgreSQL down or restarting: a clear 503 to retry, not a 500."""
    return error_response(503, "database_unavailable", "PostgreSQL is unreachable; retry", RETRY)


@app.exception_handler(TransportError)
async def search_unavailable(_: Request, exc: TransportError) -> JSONResponse:
    """OpenSearch down, or up but not ready (shards still starting: its own 503): 503 to retry."""
    if isinstance(exc, OpenSearchConnectionError) or exc.status_code in (429, 502, 503, 504):
        return error_response(503, "search_unavailable", "OpenSearch is unavailable; retry", RETRY)
    return error_response(502, "search_failed", f"OpenSearch answered {exc.status_code}")


@app.middleware("http")
async def refuse_oversized_bodies(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Answer 413 from the declared length, before a byte of an oversized body is read."""
    declared = request.headers.get("content-length", "0")
    limit = get_settings().max_upload_bytes + 64 * 1024  # multipart framing on top of the file
    if not declared.isdigit() or int(declared) > limit:
        return error_response(413, "too_large", f"request body over {limit} bytes")
    return await call_next(request)
