"""What drift monitoring watches: each image's brightness and colourfulness (measured by the worker
from the pixels the model saw), and the predictions' time, indexed for per-window figures.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("images", sa.Column("brightness", sa.Float(), nullable=True))
    op.add_column("images", sa.Column("colourfulness", sa.Float(), nullable=True))
    op.create_index("ix_style_predictions_created_at", "style_predictions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_style_predictions_created_at", table_name="style_predictions")
    op.drop_column("images", "colourfulness")
    op.drop_column("images", "brightness")
