"""FastAPI dependencies: one database session per request, the settings, API-key scopes, and
`commit_then_send`, the one place a route commits and then enqueues."""

import logging
from collections.abc import Callable, Iterator
from typing import Annotated

import redis
from fastapi import Depends
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


def require(scope: Scope) -> Callable[[Session, HTTPAuthorizationCredentials | None], ApiKey]:
    """A dependency that answers 401 without a live key and 403 for a key without `scope`."""

    def check(session: SessionDep, credentials: Credentials) -> ApiKey:
        if credentials is None:
            raise _unauthenticated("unauthenticated", "send an API key as `Authorization: Bearer <key>`")
        key = authenticate(session=session, key=credentials.credentials)
        if key is None:
            raise _unauthenticated("invalid_key", "unknown or revoked API key")
        if scope.value not in key.scopes:
            raise ApiError(403, "forbidden", f"this key lacks the `{scope}` scope")
        return key

    return check


UploadKey = Annotated[ApiKey, Depends(require(Scope.UPLOAD))]
ReviewKey = Annotated[ApiKey, Depends(require(Scope.REVIEW))]


def commit_then_send(session: Session, send: Callable[[], None], what: str) -> None:
    """Commit, then send: a worker must find the row the message names. If Redis is down at that
    moment the row is committed all the same and the periodic sweeper (or indexer sweep) sends it
    later, so the request still succeeds."""
    session.commit()
    try:
        send()
    except (KombuOperationalError, redis.RedisError, OSError):
        log.warning("could not %s now; the periodic sweep will", what, exc_info=True)
