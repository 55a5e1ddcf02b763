"""A budget of transient source failures per image (`images.transient_failures`): a source that is
briefly unavailable is retried alone, and failed with `source_unavailable` once it runs out.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("images", sa.Column("transient_failures", sa.Integer(), server_default="0", nullable=False))
    op.create_check_constraint("transient_failures", "images", "transient_failures >= 0")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_images_transient_failures"), "images", type_="check")
    op.drop_column("images", "transient_failures")
