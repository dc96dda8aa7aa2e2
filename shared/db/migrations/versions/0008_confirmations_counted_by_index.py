"""intake reads from indexes alone: an address's confirmations of the day, the register's stamp

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:40:00

The per-address cap counts an address's confirmations of the last day at every submission. With
the address and the time in one index, the count reads the index only (not each row for its
time); the index on the address alone is then redundant. The API caches the register's facts
and reads the register's stamp, max(councils.refreshed_at), at every submission: indexed, that
is one index entry instead of a scan of every council's row (about 12 KB each).
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("councils", schema=None) as batch_op:
        batch_op.create_index("ix_councils_refreshed_at", ["refreshed_at"])
    with op.batch_alter_table("confirmations_sent", schema=None) as batch_op:
        batch_op.drop_index("ix_confirmations_sent_address_key")
        batch_op.create_index("ix_confirmations_sent_address_window",
                              ["address_key", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("confirmations_sent", schema=None) as batch_op:
        batch_op.drop_index("ix_confirmations_sent_address_window")
        batch_op.create_index("ix_confirmations_sent_address_key", ["address_key"])
    with op.batch_alter_table("councils", schema=None) as batch_op:
        batch_op.drop_index("ix_councils_refreshed_at")
