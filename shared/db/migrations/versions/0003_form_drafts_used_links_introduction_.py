"""form drafts, used links, introduction emails

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:11:14.608933
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INTRODUCTION_FK = "fk_email_deliveries_introduction_id"


def upgrade() -> None:

    op.create_table(
        "used_links",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("used_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_links_used_at"), ["used_at"], unique=False)

    op.create_table(
        "form_drafts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("form_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_drafts_created_at"), ["created_at"], unique=False)

    with op.batch_alter_table("email_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("introduction_id", sa.String(length=36), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_email_deliveries_introduction_id"), ["introduction_id"], unique=False
        )
        batch_op.create_foreign_key(
            INTRODUCTION_FK, "introductions", ["introduction_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:

    with op.batch_alter_table("email_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(INTRODUCTION_FK, type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_email_deliveries_introduction_id"))
        batch_op.drop_column("introduction_id")

    with op.batch_alter_table("form_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_drafts_created_at"))

    op.drop_table("form_drafts")
    with op.batch_alter_table("used_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_links_used_at"))

    op.drop_table("used_links")
