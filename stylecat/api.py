"""The HTTP API: one FastAPI app that mounts the producer's and the search's routes, plus /health."""

from collections.abc import Awaitable, Callable
from typing import Any

import redis
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import OpenSearchException, TransportError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from db.session import get_engine
from producer import routes as producer_routes
from search import routes as search_routes
from stylecat.settings import get_settings

app = FastAPI(title="stylecat", summary="Illustration styles, categorized in the background and searchable.")
app.include_router(producer_routes.router)
app.include_router(search_routes.router)


@app.exception_handler(OperationalError)
async def database_unavailable(_: Request, exc: OperationalError) -> JSONResponse:
    """PostgreSQL down or restarting: a clear 503 to retry, not a 500."""
    return JSONResponse({"detail": {"code": "database_unavailable", "message": "PostgreSQL is unreachable; retry"}},
                        status_code=503, headers={"Retry-After": "5"})


@app.exception_handler(TransportError)
async def search_unavailable(_: Request, exc: TransportError) -> JSONResponse:
    """OpenSearch down, or up but not ready (shards still starting: its own 503): 503 to retry."""
    if isinstance(exc, OpenSearchConnectionError) or exc.status_code in (429, 502, 503, 504):
        return JSONResponse({"detail": {"code": "search_unavailable", "message": "OpenSearch is unavailable; retry"}},
                            status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"detail": {"code": "search_failed", "message": f"OpenSearch answered {exc.status_code}"}},
                        status_code=502)


@app.middleware("http")
async def refuse_oversized_bodies(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Answer 413 from the declared length, before a byte of an oversized body is read."""
    declared = request.headers.get("content-length", "0")
    limit = get_settings().max_upload_bytes + 64 * 1024  # multipart framing on top of the file
    if not declared.isdigit() or int(declared) > limit:
        return JSONResponse({"detail": {"code": "too_large", "message": f"request body over {limit} bytes"}},
                            status_code=413)
    return await call_next(request)


def _check_postgres() -> str:
    with get_engine().connect() as conn:
        return str(conn.execute(text("SHOW server_version")).scalar())


def _check_redis() -> str:
    client = redis.Redis.from_url(get_settings().redis_url, socket_connect_timeout=2, socket_timeout=2)
    return str(client.info("server")["redis_version"])


def _check_opensearch() -> str:
    client = OpenSearch(get_settings().opensearch_url, timeout=2, max_retries=0)
    version = client.info()["version"]
    return f"{version['distribution']} {version['number']}"


@app.get("/health")
def health() -> JSONResponse:
    """Reachability of PostgreSQL, Redis and OpenSearch; 503 if any is down."""
    checks = {"postgres": _check_postgres, "redis": _check_redis, "opensearch": _check_opensearch}
    report: dict[str, Any] = {}
    for name, check in checks.items():
        try:
            report[name] = {"ok": True, "version": check()}
        except (SQLAlchemyError, redis.RedisError, OpenSearchException, OSError) as exc:
            report[name] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    healthy = all(item["ok"] for item in report.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "services": report},
                        status_code=200 if healthy else 503)
