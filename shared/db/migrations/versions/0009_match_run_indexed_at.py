"""match runs record when the index that ranked them had last caught up

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 16:00:00

A refresh pass re-ranked every run made before a strong newcomer's refresh event, even one whose
match already had the newcomer in its index: a profile whose address was confirmed beforehand is
a candidate from its submission, but owes its refresh event only at its own match, which can come
a minute later in a burst. With the time its index caught up, such a run is skipped. Runs stored
before have none and are re-ranked as before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("match_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("match_runs", schema=None) as batch_op:
        batch_op.drop_column("indexed_at")
