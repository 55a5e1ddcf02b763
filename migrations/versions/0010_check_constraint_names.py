"""Check constraints named as the naming convention says: migrations 0001 and 0002 gave names that
already had the `ck_<table>_` prefix, and the convention added it again (`ck_images_ck_images_status`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENAMED = {
    "api_keys": ["scopes"],
    "images": ["attempts", "status", "style", "style_source"],
    "style_predictions": ["backend", "style"],
    "style_reviews": ["style"],
}


def _rename(doubled: bool) -> None:
    for table, names in RENAMED.items():
        for name in names:
            right = f"ck_{table}_{name}"
            old, new = (f"ck_{table}_{right}", right) if doubled else (right, f"ck_{table}_{right}")
            op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}")


def upgrade() -> None:
    _rename(doubled=True)


def downgrade() -> None:
    _rename(doubled=False)
