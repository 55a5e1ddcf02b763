"""The API's one error type and the one body every refusal has:
`{"error": {"code": "<machine-readable>", "message": "<for people>"}}`.

    ApiError(status, code, message)      raised by routes and dependencies
    ├── 401/403  unauthenticated, invalid_key, forbidden              (deps.py)
    ├── 404      not_found                                            (images.py)
    ├── 413/415/422  too_large, unsupported_type, empty, ...          (producer.uploads.UploadRejected)
    ├── 429      rate_limited (per API key)                           (limits.py)
    ├── 422      unknown_style, page_too_deep, unsafe_url, ...        (search.py, images.fetch.FetchError)
    └── 503      database_unavailable, database_busy, search_unavailable   (app.py, from driver errors)
                 queue_full                                           (limits.py)

Request validation (a wrong type, a missing field) keeps FastAPI's own 422 body, `{"detail": [...]}`,
which lists every field at fault. The web pages (`/`, `/ui/...`) answer every error as a page that
says what is wrong (app.py, ui.error_page).
"""

from fastapi import Request
from fastapi.responses import JSONResponse


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


RETRY = {"Retry-After": "5"}


def database_unavailable() -> ApiError:
    """PostgreSQL down or restarting: a clear 503 to retry, not a 500."""
    return ApiError(503, "database_unavailable", "PostgreSQL is unreachable; retry", RETRY)


def database_busy() -> ApiError:
    """Every pooled connection in use for `db_pool_timeout`: 503 to retry, not a 500."""
    return ApiError(503, "database_busy", "every database connection is in use; retry", RETRY)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def handle_api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)
