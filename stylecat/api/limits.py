"""What a request must pass before a byte of its body is read (an ASGI middleware around the app).

1. A body declared (`Content-Length`) over the route's limit: 413 at once.
2. A route that needs an API key (`KEYED_ROUTES`, which must agree with the `KeyCheck` on each route,
   see deps.py; a test holds them together): the key is checked from the headers alone, 401/403 at
   once, and the key row is handed to the route.
3. While the route reads its body, bytes are counted as they arrive, whatever the framing
   (chunked bodies declare no length): past the limit the read stops and the answer is 413.

Limits: an upload (`POST /images`, multipart) may carry `max_upload_bytes` plus its framing; every
other body is a small JSON document (`JSON_BODY_LIMIT`).
"""

import re

from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import get_settings
from db.models import ApiKey
from db.models import Scope as ApiScope
from db.session import session_factory
from stylecat.api.deps import check_key
from stylecat.api.errors import ApiError, database_unavailable, error_response

JSON_BODY_LIMIT = 16 * 1024
MULTIPART_FRAMING = 64 * 1024


class BodyTooLarge(Exception):
    """Raised into the route's body read when the bytes received pass the limit."""


def body_limit(method: str, path: str) -> int:
    if method == "POST" and path.rstrip("/") == "/images":
        return get_settings().max_upload_bytes + MULTIPART_FRAMING
    return JSON_BODY_LIMIT


KEYED_ROUTES: list[tuple[str, re.Pattern[str], ApiScope]] = [
    ("POST", re.compile(r"/images/?"), ApiScope.UPLOAD),
    ("POST", re.compile(r"/images/register/?"), ApiScope.UPLOAD),
    ("POST", re.compile(r"/images/[^/]+/review/?"), ApiScope.REVIEW),
]


def required_scope(method: str, path: str) -> ApiScope | None:
    """The scope a key needs for this route, or None for a route open to anyone."""
    return next((s for m, pattern, s in KEYED_ROUTES if m == method and pattern.fullmatch(path)), None)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if kind.lower() == "bearer" and token.strip() else None
    return None


def _authenticate(needed: ApiScope, token: str | None) -> ApiKey:
    with session_factory()() as session:
        key = check_key(session=session, token=token, scope=needed)
        session.expunge(key)
        return key


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
                key = await run_in_threadpool(_authenticate, needed, _bearer(scope))
            except ApiError as refusal:
                await _refuse(scope, receive, send, refusal)
                return
            except OperationalError:
                await _refuse(scope, receive, send, database_unavailable())
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
