"""Documents OpenSearch rejects for good are parked (`images.index_parked_version`,
`images.index_error`) instead of staying at the front of every indexing batch.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("images", sa.Column("index_parked_version", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("images", sa.Column("index_error", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("images", "index_error")
    op.drop_column("images", "index_parked_version")
