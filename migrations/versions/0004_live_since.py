"""When an image's live job was sent (`images.live_since`), so that the sweeper can re-send a lost
live job during a long backfill instead of waiting for the queues to empty.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("images", sa.Column("live_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("images", "live_since")
