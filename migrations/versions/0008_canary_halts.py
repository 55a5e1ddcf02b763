"""Canary halts: a challenger version whose canary was stopped by itself (too many failures, or too
much disagreement with reviews), when and why. While a version has one, it serves no canary images.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "canary_halts",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("figures", sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column("requeued", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_canary_halts"),
        sa.UniqueConstraint("model_name", "model_version", name="uq_canary_halts_model_name_model_version"),
    )


def downgrade() -> None:
    op.drop_table("canary_halts")
