"""Request and response models of the HTTP API (what /docs shows)."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from core.styles import STYLES

Style = Annotated[str, Field(pattern=f"^({'|'.join(STYLES)})$")]


def _storable(value: str) -> str:
    """PostgreSQL's text cannot hold the NUL character: a request that sends one gets a 422, not
    a database error."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


Text = Annotated[str, AfterValidator(_storable)]
"""Text the API stores."""


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


class Accepted(BaseModel):
    id: int
    status: str = "queued"
    url: str


class RegisterIn(BaseModel):
    source: Text = Field(max_length=2048, description="s3://bucket/key or an http(s) URL")
    title: Text | None = Field(default=None, max_length=500)


class ReviewIn(BaseModel):
    style: Style
    reviewer: Text = Field(min_length=1, max_length=200)


class ImageOut(BaseModel):
    id: int
    status: str
    style: str | None
    confidence: float | None
    probs: dict[str, float] | None
    model_version: str | None
    style_source: str | None = Field(description="`model` or `review` (a human correction, never overwritten)")
    error: ErrorBody | None


class PredictionOut(BaseModel):
    model_name: str
    model_version: str
    role: str = Field(description="`served` (it set the style), `shadow` (a challenger's, unused) or `canary`")
    backend: str
    style: str
    probs: dict[str, float]
    confidence: float
    latency_ms: float | None
    created_at: datetime


class PredictionsOut(BaseModel):
    predictions: list[PredictionOut] = Field(description="newest first")


class QueueItem(BaseModel):
    id: int
    title: str | None
    style: str
    confidence: float | None
    probs: dict[str, float] | None
    model_version: str | None
    thumbnail: str = Field(description="a 512 px thumbnail")


class ReviewQueueOut(BaseModel):
    items: list[QueueItem]


class SearchHit(BaseModel):
    id: int
    title: str | None = None
    status: str
    style: str | None = None
    style_source: str | None = None
    reviewed: bool = False
    confidence: float | None = None
    probs: dict[str, float] | None = None
    model_version: str | None = None
    width: int | None = None
    height: int | None = None
    created_at: str | None = None
    predicted_at: str | None = None


class Facets(BaseModel):
    style: dict[str, int] = Field(description="hits per style under every filter except the style filter")


class SearchOut(BaseModel):
    total: int
    hits: list[SearchHit]
    facets: Facets


class ServiceCheck(BaseModel):
    ok: bool
    version: str | None = None
    error: str | None = None


class HealthOut(BaseModel):
    status: str = Field(description="`ok`, or `degraded` (then the answer is 503)")
    services: dict[str, ServiceCheck]


def errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    """For `responses=`: the error body every refusal has. 422 also covers FastAPI's own validation
    body, so it is described, not given a model."""
    return {
        status: {"description": "see the error body's code"} if status == 422 else {"model": ErrorOut}
        for status in statuses
    }
