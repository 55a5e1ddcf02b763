"""Prediction roles name what a prediction did: `served` (it set the image's style; was `champion`),
`shadow` (a challenger's, used by nothing) or `canary` (a challenger's that set the style).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OLD = "ck_style_predictions_ck_style_predictions_role"  # as 0001 named it (the convention applied twice)


def upgrade() -> None:
    op.drop_constraint(op.f(OLD), "style_predictions", type_="check")
    op.execute("UPDATE style_predictions SET role = 'served' WHERE role = 'champion'")
    op.alter_column("style_predictions", "role", server_default="served")
    op.create_check_constraint("role", "style_predictions", "role IN ('served', 'shadow', 'canary')")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_style_predictions_role"), "style_predictions", type_="check")
    op.execute("UPDATE style_predictions SET role = 'champion' WHERE role IN ('served', 'canary')")
    op.alter_column("style_predictions", "role", server_default="champion")
    op.create_check_constraint(op.f(OLD), "style_predictions", "role IN ('champion', 'shadow')")
