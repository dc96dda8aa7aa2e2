"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 08:53:12.294772
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "contact_addresses",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email"),
    )
    op.create_table(
        "councils",
        sa.Column("gss_code", sa.String(length=9), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("official_name", sa.String(length=300), nullable=False),
        sa.Column("council_type", sa.String(length=8), nullable=False),
        sa.Column("nation", sa.String(length=40), nullable=False),
        sa.Column("region", sa.String(length=60), nullable=False),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("dfe_la_number", sa.Integer(), nullable=True),
        sa.Column("place", sa.JSON(), nullable=False),
        sa.Column("ofsted", sa.JSON(), nullable=False),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("gss_code"),
    )
    with op.batch_alter_table("councils", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_councils_code"), ["code"], unique=False)

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("task_name", sa.String(length=120), nullable=False),
        sa.Column("task_key", sa.String(length=200), nullable=False),
        sa.Column("task_args", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letters_task_key"), ["task_key"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("topic", sa.String(length=60), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=True),
        sa.Column("profile_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_count", sa.Integer(), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_events_consumed_at"), ["consumed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_events_profile_id"), ["profile_id"], unique=False
        )

    op.create_table(
        "task_attempts",
        sa.Column("task_key", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task_key"),
    )
    op.create_table(
        "council_codes",
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("gss_code", sa.String(length=9), nullable=False),
        sa.ForeignKeyConstraint(["gss_code"], ["councils.gss_code"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "profiles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("gss_code", sa.String(length=9), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gss_code"],
            ["councils.gss_code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_profiles_contact_email"), ["contact_email"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_profiles_gss_code"), ["gss_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_profiles_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "email_deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=True),
        sa.Column("match_run_id", sa.String(length=36), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=True),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    with op.batch_alter_table("email_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_email_deliveries_profile_id"), ["profile_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_email_deliveries_status"), ["status"], unique=False)

    op.create_table(
        "match_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("profile_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=True),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("profile_id", "profile_version"),
    )
    op.create_table(
        "profile_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("profile_id", "version"),
    )
    op.create_table(
        "recommendations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("match_run_id", sa.String(length=36), nullable=False),
        sa.Column("service_area", sa.String(length=40), nullable=False),
        sa.Column("need_rating", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("partner_profile_id", sa.String(length=36), nullable=False),
        sa.Column("partner_kind", sa.String(length=16), nullable=False),
        sa.Column("partner_name", sa.String(length=300), nullable=False),
        sa.Column("partner_gss_code", sa.String(length=9), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("strength_rating", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["match_run_id"], ["match_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recommendations_partner_profile_id"),
            ["partner_profile_id"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recommendations_partner_profile_id"))

    op.drop_table("recommendations")
    op.drop_table("profile_versions")
    op.drop_table("match_runs")
    with op.batch_alter_table("email_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_deliveries_status"))
        batch_op.drop_index(batch_op.f("ix_email_deliveries_profile_id"))

    op.drop_table("email_deliveries")
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profiles_updated_at"))
        batch_op.drop_index(batch_op.f("ix_profiles_gss_code"))
        batch_op.drop_index(batch_op.f("ix_profiles_contact_email"))

    op.drop_table("profiles")
    op.drop_table("council_codes")
    op.drop_table("task_attempts")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_events_profile_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_events_consumed_at"))

    op.drop_table("outbox_events")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letters_task_key"))

    op.drop_table("dead_letters")
    with op.batch_alter_table("councils", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_councils_code"))

    op.drop_table("councils")
    op.drop_table("contact_addresses")
