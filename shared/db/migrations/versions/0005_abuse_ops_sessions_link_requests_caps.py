"""abuse and leaks: server-side ops sessions, link requests for the worker, confirmation caps,
idempotency records bound to the profile they created

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ops_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_name"], ["ops_users.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    with op.batch_alter_table("ops_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ops_sessions_user_name"), ["user_name"])
        batch_op.create_index(batch_op.f("ix_ops_sessions_expires_at"), ["expires_at"])

    op.create_table(
        "link_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("link_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_requests_created_at"), ["created_at"])

    op.create_table(
        "confirmations_sent",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("profile_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("confirmations_sent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_confirmations_sent_address_key"), ["address_key"])
        batch_op.create_index(batch_op.f("ix_confirmations_sent_profile_key"), ["profile_key"])
        batch_op.create_index(batch_op.f("ix_confirmations_sent_created_at"), ["created_at"])

    # Stored replays were keyed by the raw key alone; keys are now bound to their client, so the
    # old rows could never be matched again: drop them rather than keep them for a day.
    op.execute("DELETE FROM idempotency_keys")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("profile_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_idempotency_keys_profile_id"), ["profile_id"])
        batch_op.create_index(batch_op.f("ix_idempotency_keys_created_at"), ["created_at"])


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_profile_id"))
        batch_op.drop_column("profile_id")
    op.drop_table("confirmations_sent")
    op.drop_table("link_requests")
    op.drop_table("ops_sessions")
