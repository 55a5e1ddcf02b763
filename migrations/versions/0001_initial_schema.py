"""Initial schema: images (metadata + indexer outbox), style_predictions, style_reviews.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STYLES = "'3d', 'flat', 'hand_drawn', 'line_art'"


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("storage_ref", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(100), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("style", sa.String(16), nullable=True),
        sa.Column("style_probs", postgresql.JSONB(), nullable=True),
        sa.Column("model_name", sa.String(200), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("predicted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("style_source", sa.String(16), nullable=True),
        sa.Column("index_version", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("indexed_version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_images"),
        sa.CheckConstraint("status IN ('queued', 'processing', 'categorized', 'failed')", name="ck_images_status"),
        sa.CheckConstraint(f"style IS NULL OR style IN ({STYLES})", name="ck_images_style"),
        sa.CheckConstraint(
            "style_source IS NULL OR style_source IN ('model', 'review')", name="ck_images_style_source"
        ),
        sa.CheckConstraint("attempts >= 0", name="ck_images_attempts"),
    )
    op.create_index("ix_images_sha256", "images", ["sha256"])
    op.create_index("ix_images_status_updated_at", "images", ["status", "updated_at"])
    op.create_index(
        "ix_images_unindexed", "images", ["id"], postgresql_where=sa.text("indexed_version < index_version")
    )

    op.create_table(
        "style_predictions",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), server_default="champion", nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("style", sa.String(16), nullable=False),
        sa.Column("probs", postgresql.JSONB(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_style_predictions"),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name="fk_style_predictions_image_id_images", ondelete="CASCADE"
        ),
        sa.UniqueConstraint(
            "image_id",
            "model_name",
            "model_version",
            "role",
            name="uq_style_predictions_image_id_model_name_model_version_role",
        ),
        sa.CheckConstraint("role IN ('champion', 'shadow')", name="ck_style_predictions_role"),
        sa.CheckConstraint("backend IN ('local', 'sagemaker')", name="ck_style_predictions_backend"),
        sa.CheckConstraint(f"style IN ({STYLES})", name="ck_style_predictions_style"),
    )
    op.create_index("ix_style_predictions_image_id", "style_predictions", ["image_id"])

    op.create_table(
        "style_reviews",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("style", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_style_reviews"),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name="fk_style_reviews_image_id_images", ondelete="CASCADE"
        ),
        sa.CheckConstraint(f"style IN ({STYLES})", name="ck_style_reviews_style"),
    )
    op.create_index("ix_style_reviews_image_id", "style_reviews", ["image_id"])


def downgrade() -> None:
    op.drop_table("style_reviews")
    op.drop_table("style_predictions")
    op.drop_table("images")
