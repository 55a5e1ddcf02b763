"""The web interface. The gallery (`/`) and an image's page (`/ui/images/{id}`) are rendered on the
server from the same search and image functions as the JSON API, with a little script that
submits the filter form as it changes. The review page (`/ui/review`) is a page whose script works
from the JSON API with the reviewer's key. The models page (`/ui/models`) shows the registry, the
challenger in production and drift, with charts drawn as SVG on the server. Every asset is served
from static/ui/: nothing loads from elsewhere."""

from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from core.styles import STYLES
from db.models import Image, StyleReview
from stylecat.api.charts import chart
from stylecat.api.deps import SessionDep, SettingsDep
from stylecat.api.errors import ApiError
from stylecat.api.images import ImageId, image_view, prediction_history
from stylecat.api.search import StyleParam, run_search, search_request

HERE = Path(__file__).parent
PAGE_SIZE = 24

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")


HEADINGS = {404: "Not found", 422: "That address asks for something the page cannot show", 503: "Try again soon"}


def is_page(path: str) -> bool:
    """Whether `path` is one of the web pages (which answer errors as a page, not as JSON)."""
    return path == "/" or path.startswith("/ui/")


def error_page(request: Request, status: int, code: str, problems: list[str]) -> HTMLResponse:
    heading = HEADINGS.get(status, "Something went wrong")
    context = {"status": status, "heading": heading, "code": code, "problems": problems}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def mount(app: FastAPI) -> None:
    app.mount("/static/ui", StaticFiles(directory=HERE / "static" / "ui"), name="ui-assets")
    app.include_router(router)


@router.get("/", response_class=HTMLResponse)
def gallery(
    request: Request,
    settings: SettingsDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    style: StyleParam = [],  # noqa: B006  (FastAPI copies defaults)
    min_confidence: Annotated[float, Query(ge=0, le=1)] = 0.0,
    reviewed: Annotated[str, Query(pattern="^(|yes|no)$")] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    q = (q or "").strip() or None
    flag = {"yes": True, "no": False}.get(reviewed)
    found = run_search(search_request(q, style, min_confidence or None, flag, page, PAGE_SIZE), settings)
    state = {"q": q or "", "style": style, "min_confidence": min_confidence or "", "reviewed": reviewed}

    def page_url(number: int) -> str:
        params = {k: v for k, v in state.items() if v not in ("", [], None)} | {"page": number}
        return "/?" + urlencode(params, doseq=True)

    last = max(1, min(-(-found.total // PAGE_SIZE), 10_000 // PAGE_SIZE))
    return templates.TemplateResponse(
        request,
        "gallery.html",
        {
            "found": found,
            "styles": STYLES,
            "selected": set(style),
            "state": state,
            "page": page,
            "last": last,
            "prev_url": page_url(page - 1) if page > 1 else None,
            "next_url": page_url(page + 1) if page < last else None,
        },
    )


@router.get("/ui/review", response_class=HTMLResponse)
def review_page(request: Request) -> HTMLResponse:
    """The page itself is public; everything it shows comes from routes that need a review key."""
    return templates.TemplateResponse(request, "review.html", {"styles": STYLES})


@router.get("/ui/images/{image_id}", response_class=HTMLResponse)
def image_page(request: Request, image_id: ImageId, session: SessionDep) -> HTMLResponse:
    image = session.scalar(select(Image).where(Image.id == image_id))
    if image is None:
        raise ApiError(404, "not_found", f"no image {image_id}")
    predictions = prediction_history(session, image_id)
    reviews = session.scalars(
        select(StyleReview).where(StyleReview.image_id == image_id).order_by(StyleReview.id.desc())
    ).all()
    return templates.TemplateResponse(
        request,
        "image.html",
        {
            "image": image,
            "view": image_view(image),
            "styles": STYLES,
            "predictions": predictions,
            "reviews": reviews,
        },
    )


@router.get("/ui/models", response_class=HTMLResponse)
def models_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    window: Annotated[str, Query(pattern="^(1h|1d)$")] = "1d",
    windows: Annotated[int, Query(ge=2, le=90)] = 14,
) -> HTMLResponse:
    """Registered versions and aliases, the challenger in production, and drift over time."""
    from producer import lifecycle
    from producer.monitoring import WINDOWS, drift

    try:
        found = lifecycle.overview(session=session, settings=settings)
        registry_error = None
    except Exception as exc:  # MLflow, its store or Redis: whatever they raised; the drift part still shows
        found, registry_error = None, f"{type(exc).__name__}: {exc}"
    report = drift(session=session, settings=settings, window=WINDOWS[window], count=windows)
    figures = report.as_json(settings) if report else None
    return templates.TemplateResponse(
        request,
        "models.html",
        {
            "overview": found,
            "registry_error": registry_error,
            "drift": figures,
            "chart": chart(figures["windows"]) if figures else None,
            "styles": STYLES,
            "window": window,
        },
    )
