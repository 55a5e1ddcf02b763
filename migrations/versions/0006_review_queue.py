"""Reviews record the API key that made them (`style_reviews.api_key_id`), and the review queue's
order (unreviewed, lowest confidence first) has an index of its own.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "style_reviews",
        sa.Column("api_key_id", sa.BigInteger(), sa.ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_style_reviews_api_key_id", "style_reviews", ["api_key_id"])
    op.create_index(
        "ix_images_review_queue",
        "images",
        ["confidence", "id"],
        postgresql_where=sa.text("status = 'categorized' AND style_source = 'model'"),
    )


def downgrade() -> None:
    op.drop_index("ix_images_review_queue", table_name="images")
    op.drop_index("ix_style_reviews_api_key_id", table_name="style_reviews")
    op.drop_column("style_reviews", "api_key_id")
