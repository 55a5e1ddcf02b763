"""FastAPI dependencies: one database session per request, the settings, and API-key scopes."""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from db.models import ApiKey, Scope
from db.session import session_factory
from producer.apikeys import authenticate
from stylecat.settings import Settings, get_settings


def get_db() -> Iterator[Session]:
    with session_factory()() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

bearer = HTTPBearer(auto_error=False, description="An API key from `stylecat keys create`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _unauthenticated(code: str, message: str) -> HTTPException:
    return HTTPException(401, {"code": code, "message": message}, headers={"WWW-Authenticate": "Bearer"})


def require(scope: Scope) -> Callable[[Session, HTTPAuthorizationCredentials | None], ApiKey]:
    """A dependency that answers 401 without a live key and 403 for a key without `scope`."""

    def check(session: SessionDep, credentials: Credentials) -> ApiKey:
        if credentials is None:
            raise _unauthenticated("unauthenticated", "send an API key as `Authorization: Bearer <key>`")
        key = authenticate(session=session, key=credentials.credentials)
        if key is None:
            raise _unauthenticated("invalid_key", "unknown or revoked API key")
        if scope.value not in key.scopes:
            raise HTTPException(403, {"code": "forbidden", "message": f"this key lacks the `{scope}` scope"})
        return key

    return check


UploadKey = Annotated[ApiKey, Depends(require(Scope.UPLOAD))]
ReviewKey = Annotated[ApiKey, Depends(require(Scope.REVIEW))]
