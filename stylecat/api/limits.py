"""What a request must pass before a byte of its body is read (an ASGI middleware around the app).

1. A body declared (`Content-Length`) over the route's limit: 413 at once.
2. A route that needs an API key (`KEYED_ROUTES`, which must agree with the `KeyCheck` on each route,
   see deps.py; a test holds them together): the key is checked from the headers alone, 401/403 at
   once, and the key row is handed to the route.
3. Backpressure, for those routes: at most `rate_limit_per_minute` requests a minute per key (429
   with `Retry-After`), and no new uploads while the live queue is deeper than `max_live_queue`
   (503 `queue_full` with `Retry-After`). Both are counted in Redis; if Redis is away they let the
   request through (the upload itself still succeeds, see deps.commit_then_send).
4. While the route reads its body, bytes are counted as they arrive, whatever the framing
   (chunked bodies declare no length): past the limit the read stops and the answer is 413.

Limits: an upload (the keyed route marked `upload`: `POST /images`, multipart) may carry
`max_upload_bytes` plus its framing; every other body is a small JSON document (`JSON_BODY_LIMIT`).
"""

import logging
import re
import time
from dataclasses import dataclass

import redis
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.queues import Queue
from core.settings import get_settings
from db.models import ApiKey
from db.models import Scope as ApiScope
from db.session import session_factory
from stylecat.api.deps import check_key
from stylecat.api.errors import ApiError, database_busy, database_unavailable, error_response
from worker.dispatch import depths, redis_client

log = logging.getLogger(__name__)

JSON_BODY_LIMIT = 16 * 1024
MULTIPART_FRAMING = 64 * 1024


class BodyTooLarge(Exception):
    """Raised into the route's body read when the bytes received pass the limit."""


@dataclass(frozen=True)
class KeyedRoute:
    method: str
    pattern: re.Pattern[str]
    scope: ApiScope
    upload: bool = False
    """Its body is a multipart upload (up to `max_upload_bytes`), not a small JSON document."""


KEYED_ROUTES = [
    KeyedRoute("POST", re.compile(r"/images/?"), ApiScope.UPLOAD, upload=True),
    KeyedRoute("POST", re.compile(r"/images/register/?"), ApiScope.UPLOAD),
    KeyedRoute("POST", re.compile(r"/images/[^/]+/review/?"), ApiScope.REVIEW),
    KeyedRoute("GET", re.compile(r"/reviews/queue/?"), ApiScope.REVIEW),
]


def _keyed(method: str, path: str) -> KeyedRoute | None:
    return next((r for r in KEYED_ROUTES if r.method == method and r.pattern.fullmatch(path)), None)


def body_limit(method: str, path: str) -> int:
    route = _keyed(method, path)
    return get_settings().max_upload_bytes + MULTIPART_FRAMING if route and route.upload else JSON_BODY_LIMIT


def required_scope(method: str, path: str) -> ApiScope | None:
    """The scope a key needs for this route, or None for a route open to anyone."""
    route = _keyed(method, path)
    return route.scope if route else None


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if kind.lower() == "bearer" and token.strip() else None
    return None


def _admitted_key(needed: ApiScope, token: str | None) -> ApiKey:
    """The live key with the scope, under its rate and the queue limit; else the ApiError to answer."""
    try:
        with session_factory()() as session:
            key = check_key(session=session, token=token, scope=needed)
            session.expunge(key)
    except OperationalError:
        raise database_unavailable() from None
    except PoolTimeout:
        raise database_busy() from None
    _admit(key, needed)
    return key


def _admit(key: ApiKey, needed: ApiScope) -> None:
    """Raise a refusal when the key is over its rate or (for uploads) the live queue is too deep."""
    settings = get_settings()
    client = redis_client(settings.redis_url)
    try:
        if settings.rate_limit_per_minute:
            now = time.time()
            window = f"stylecat:rate:{key.id}:{int(now // 60)}"
            count, _ = client.pipeline().incr(window).expire(window, 120).execute()
            if int(count) > settings.rate_limit_per_minute:
                wait = {"Retry-After": str(60 - int(now % 60))}
                raise ApiError(429, "rate_limited", f"over {settings.rate_limit_per_minute} requests a minute", wait)
        if needed is ApiScope.UPLOAD and settings.max_live_queue:
            if depths(client, (Queue.LIVE,))[Queue.LIVE] > settings.max_live_queue:
                raise ApiError(503, "queue_full", "too many images are waiting; retry later", {"Retry-After": "30"})
    except redis.RedisError as exc:
        log.warning("backpressure checks skipped, Redis is unreachable: %s", exc)


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["method"], scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(scope, receive, send, ApiError(413, "too_large", f"request body over {limit} bytes"))
            return
        needed = required_scope(scope["method"], scope["path"])
        if needed is not None:
            try:
                key = await run_in_threadpool(_admitted_key, needed, _bearer(scope))
            except ApiError as refusal:
                await _refuse(scope, receive, send, refusal)
                return
            scope.setdefault("state", {})["api_key"] = key
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        over = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if not over:  # once over the limit, whatever the route answers is replaced by 413
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            pass
        if over:
            await _refuse(scope, receive, send, ApiError(413, "too_large", f"request body over {limit} bytes"))


async def _refuse(scope: Scope, receive: Receive, send: Send, refusal: ApiError) -> None:
    response = error_response(refusal.status, refusal.code, refusal.message, refusal.headers)
    # The unread body is not drained: the server closes the connection after this answer.
    response.headers["connection"] = "close"
    await response(scope, receive, send)
