"""who takes part: a profile's address confirmed, a council address checked against its domain

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:00:00

Existing profiles take their confirmation from contact_addresses. Existing council profiles
start unverified: `partnermatch seed` (run on every deploy) loads the councils' web domains and
checks them again, so those on their council's own domain need no review.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("councils", schema=None) as batch_op:
        batch_op.add_column(sa.Column("web_domains", sa.JSON(), nullable=True))
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_confirmed", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("address_status", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_profiles_address_status", ["address_status"], unique=False)
    op.execute(
        "UPDATE profiles SET contact_confirmed = TRUE WHERE contact_email IN "
        "(SELECT email FROM contact_addresses WHERE confirmed_at IS NOT NULL)"
    )
    op.execute(
        "UPDATE profiles SET address_status = 'unverified' "
        "WHERE kind = 'council' AND demo = FALSE"
    )


def downgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_profiles_address_status")
        batch_op.drop_column("address_status")
        batch_op.drop_column("contact_confirmed")
    with op.batch_alter_table("councils", schema=None) as batch_op:
        batch_op.drop_column("web_domains")
