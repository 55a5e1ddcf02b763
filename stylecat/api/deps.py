"""FastAPI dependencies: one database session per request, the settings, API-key scopes, and
`commit_then_send`, the one place a route commits and then enqueues."""

import logging
from collections.abc import Callable, Iterator
from typing import Annotated

import redis
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy.orm import Session

from core.settings import Settings, get_settings
from db.models import ApiKey, Scope
from db.session import session_factory
from producer.apikeys import authenticate
from stylecat.api.errors import ApiError

log = logging.getLogger(__name__)


def get_db() -> Iterator[Session]:
    with session_factory()() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

bearer = HTTPBearer(auto_error=False, description="An API key from `stylecat keys create`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _unauthenticated(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": "Bearer"})


def check_key(*, session: Session, token: str | None, scope: Scope) -> ApiKey:
    """The live key for `token`; 401 without one, 403 for a key without `scope`."""
    if token is None:
        raise _unauthenticated("unauthenticated", "send an API key as `Authorization: Bearer <key>`")
    key = authenticate(session=session, key=token)
    if key is None:
        raise _unauthenticated("invalid_key", "unknown or revoked API key")
    return _with_scope(key, scope)


def _with_scope(key: ApiKey, scope: Scope) -> ApiKey:
    if scope.value not in key.scopes:
        raise ApiError(403, "forbidden", f"this key lacks the `{scope}` scope")
    return key


class KeyCheck:
    """A route's dependency on a key with `scope`. The request guard (limits.py, `KEYED_ROUTES`)
    has already checked the key from the headers, before the body was read; the route gets it."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def __call__(self, request: Request, _: Credentials) -> ApiKey:
        key = getattr(request.state, "api_key", None)
        if not isinstance(key, ApiKey):  # fail closed if the guard did not check this route
            raise _unauthenticated("unauthenticated", "send an API key as `Authorization: Bearer <key>`")
        return _with_scope(key, self.scope)


UploadKey = Annotated[ApiKey, Depends(KeyCheck(Scope.UPLOAD))]
ReviewKey = Annotated[ApiKey, Depends(KeyCheck(Scope.REVIEW))]


def commit_then_send(session: Session, send: Callable[[], None], what: str) -> None:
    """Commit, then send: a worker must find the row the message names. If Redis is down at that
    moment the row is committed all the same and the periodic sweeper (or indexer sweep) sends it
    later, so the request still succeeds."""
    session.commit()
    try:
        send()
    except (KombuOperationalError, redis.RedisError, OSError):
        log.warning("could not %s now; the periodic sweep will", what, exc_info=True)
