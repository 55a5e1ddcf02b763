"""GET /health: can the API reach PostgreSQL, Redis and OpenSearch?

Anyone gets up or down per service (load balancers, compose healthchecks). Versions and error
messages, which name internal hosts and ports, go only to a request with a live API key, and
every failure is logged."""

import logging
from collections.abc import Callable

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from opensearchpy import OpenSearch
from opensearchpy.exceptions import OpenSearchException
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.settings import get_settings
from db.session import get_engine, session_factory
from producer.apikeys import authenticate
from stylecat.api.deps import Credentials
from stylecat.api.schemas import HealthOut, ServiceCheck

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


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


CHECKS: dict[str, Callable[[], str]] = {
    "postgres": _check_postgres,
    "redis": _check_redis,
    "opensearch": _check_opensearch,
}


def _live_key(credentials: Credentials) -> bool:
    """Whether the request carries a live API key (any scope); False when PostgreSQL cannot say."""
    if credentials is None:
        return False
    try:
        with session_factory()() as session:
            return authenticate(session=session, key=credentials.credentials) is not None
    except SQLAlchemyError:
        return False


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
def health(credentials: Credentials) -> JSONResponse:
    """Reachability of PostgreSQL, Redis and OpenSearch; 503 if any is down. Versions and errors
    only with an API key."""
    services: dict[str, ServiceCheck] = {}
    for name, check in CHECKS.items():
        try:
            services[name] = ServiceCheck(ok=True, version=check())
        except (SQLAlchemyError, redis.RedisError, OpenSearchException, OSError) as exc:
            log.warning("health: %s is down: %s", name, exc)
            services[name] = ServiceCheck(ok=False, error=f"{type(exc).__name__}: {str(exc)[:200]}")
    healthy = all(check.ok for check in services.values())
    if not _live_key(credentials):
        services = {name: ServiceCheck(ok=check.ok) for name, check in services.items()}
    body = HealthOut(status="ok" if healthy else "degraded", services=services)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if healthy else 503)
