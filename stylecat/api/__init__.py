"""The HTTP layer: routes over the domain functions of producer/ and search/, in one place.

app.py      the FastAPI app: routers, middleware, the error handlers
deps.py     dependencies: a session per request, the settings, API-key scopes, commit-then-send
errors.py   ApiError and the one `{"error": {"code", "message"}}` body
schemas.py  request and response models (the schemas /docs shows)
images.py, search.py, health.py   the routes
docs.py     /docs and /redoc from the API's own static files (static/docs/), no CDN
"""

from stylecat.api.app import app

__all__ = ["app"]
