"""SQLAlchemy 2 models: images (the metadata and the indexer's outbox), prediction history, reviews."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.styles import STYLES


class ImageStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    CATEGORIZED = "categorized"
    FAILED = "failed"


class StyleSource(StrEnum):
    MODEL = "model"
    REVIEW = "review"


class PredictionRole(StrEnum):
    SERVED = "served"
    """It set the image's style."""
    SHADOW = "shadow"
    """A challenger's, stored beside the served one; used by nothing."""
    CANARY = "canary"
    """A challenger's that set the image's style."""


class Scope(StrEnum):
    """What an API key may do; search and health need none."""

    UPLOAD = "upload"
    REVIEW = "review"


SCOPE_LIST = ", ".join(f"'{scope}'" for scope in Scope)


class Backend(StrEnum):
    LOCAL = "local"
    SAGEMAKER = "sagemaker"


def _one_of(column: str, values: tuple[str, ...] | type[StrEnum]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {dict[str, float]: JSONB, dict[str, Any]: JSONB}


class Image(Base):
    """One illustration and its current style. `index_version > indexed_version` means "to index"."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    storage_ref: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    brightness: Mapped[float | None] = mapped_column(Float)
    """Mean luma in [0, 1] of the pixels the model saw (drift monitoring); set by the local backend."""
    colourfulness: Mapped[float | None] = mapped_column(Float)
    """Hasler and Süsstrunk's colourfulness of those pixels, in [0, 1] (0: grey)."""

    status: Mapped[str] = mapped_column(String(16), server_default=ImageStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    transient_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    live_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When the image's live job was sent (new images, the sweeper's re-sends); the sweeper re-sends
    a job that is still `queued` past the stale limit even while a long backfill fills the queues."""
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)

    style: Mapped[str | None] = mapped_column(String(16))
    style_probs: Mapped[dict[str, float] | None]
    model_name: Mapped[str | None] = mapped_column(String(200))
    model_version: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    predicted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    style_source: Mapped[str | None] = mapped_column(String(16))

    index_version: Mapped[int] = mapped_column(BigInteger, server_default="1")
    indexed_version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    index_parked_version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    """The version OpenSearch rejected for good (`index_error` says why); pending again once a write
    gives the row a newer version."""
    index_error: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        CheckConstraint(_one_of("status", ImageStatus), name="status"),
        CheckConstraint(f"style IS NULL OR {_one_of('style', STYLES)}", name="style"),
        CheckConstraint(f"style_source IS NULL OR {_one_of('style_source', StyleSource)}", name="style_source"),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint("transient_failures >= 0", name="transient_failures"),
        Index("ix_images_status_updated_at", "status", "updated_at"),
        Index(
            "ix_images_unindexed",
            "id",
            postgresql_where=text("indexed_version < index_version"),
        ),
        Index(
            "ix_images_review_queue",
            "confidence",
            "id",
            postgresql_where=text("status = 'categorized' AND style_source = 'model'"),
        ),
    )


class StylePrediction(Base):
    """Append-only history: one row per (image, model version, role), re-runs upsert the same row."""

    __tablename__ = "style_predictions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), server_default=PredictionRole.SERVED.value)
    backend: Mapped[str] = mapped_column(String(16))
    style: Mapped[str] = mapped_column(String(16))
    probs: Mapped[dict[str, float]]
    confidence: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)

    __table_args__ = (
        UniqueConstraint("image_id", "model_name", "model_version", "role"),
        CheckConstraint(_one_of("role", PredictionRole), name="role"),
        CheckConstraint(_one_of("backend", Backend), name="backend"),
        CheckConstraint(_one_of("style", STYLES), name="style"),
    )


class StyleReview(Base):
    """A human correction. The newest review of an image is its style, whatever the model says."""

    __tablename__ = "style_reviews"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    style: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(200))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"), index=True)
    """The API key that made the review (the reviewer's name is free text)."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint(_one_of("style", STYLES), name="style"),)


class ApiKey(Base):
    """A client credential. Only the SHA-256 of the key is stored; the key is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"cardinality(scopes) > 0 AND scopes <@ ARRAY[{SCOPE_LIST}]::varchar[]", name="scopes"),
    )


class CanaryHalt(Base):
    """A challenger version whose canary stopped by itself; while it exists, the version serves no
    canary images (its shadow goes on)."""

    __tablename__ = "canary_halts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    figures: Mapped[dict[str, Any]]
    """The signals that decided: failure rate and attempts, disagreement with reviews and reviewed images."""
    requeued: Mapped[int] = mapped_column(Integer, server_default="0")
    """Images the canary had served, sent to be categorized again by the champion."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("model_name", "model_version"),)
