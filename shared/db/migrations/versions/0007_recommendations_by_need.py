"""recommendations stored as one row per need, its partners one JSON document

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:00:00

The recommendations of each run (a row per partner) move into a new recommendations table (a row
per need, its partners best first in one document, the first five ids beside it), a few runs at
a time; the downgrade moves them back, each partner's rank its place in the document. The old
table is renamed out of the way first (on PostgreSQL with its key index and id sequence, whose
names the new table's would otherwise clash with) and dropped once empty.
"""

from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

RUNS_PER_BATCH = 200
TOP_PARTNERS = 5  # the ids stored beside the document (partnermatch.shared.recommendations.runs)
TABLE = "recommendations"
OLD_SHAPE = "recommendations_by_partner"
NEW_SHAPE = "recommendations_by_need"
PARTNER_INDEX = "ix_recommendations_partner_profile_id"


def by_partner(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("match_run_id", sa.String()),
        sa.column("service_area", sa.String()),
        sa.column("need_rating", sa.Integer()),
        sa.column("rank", sa.Integer()),
        sa.column("partner_profile_id", sa.String()),
        sa.column("partner_kind", sa.String()),
        sa.column("partner_name", sa.String()),
        sa.column("partner_gss_code", sa.String()),
        sa.column("score", sa.Float()),
        sa.column("strength_rating", sa.Integer()),
        sa.column("reasons", sa.JSON()),
    )


def by_need(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("id", sa.Integer()),
        sa.column("match_run_id", sa.String()),
        sa.column("service_area", sa.String()),
        sa.column("rating", sa.Integer()),
        sa.column("partners", sa.JSON()),
        sa.column("top_partner_ids", sa.JSON()),
    )


match_runs = sa.table("match_runs", sa.column("id", sa.String()),
                      sa.column("generated_at", sa.DateTime()))


def upgrade() -> None:
    op.drop_index(PARTNER_INDEX, table_name=TABLE)
    _rename(TABLE, OLD_SHAPE)
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("match_run_id", sa.String(length=36), nullable=False),
        sa.Column("service_area", sa.String(length=40), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("partners", sa.JSON(), nullable=False),
        sa.Column("top_partner_ids", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["match_run_id"], ["match_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("match_run_id", "service_area"),
    )
    old, new = by_partner(OLD_SHAPE), by_need(TABLE)
    connection = op.get_bind()
    for run_ids in _run_batches(connection, old.c.match_run_id):
        rows = connection.execute(
            sa.select(old).where(old.c.match_run_id.in_(run_ids))
            .order_by(old.c.match_run_id, old.c.service_area, old.c.rank)).mappings()
        oldest_first = {run_id: place for place, run_id in enumerate(run_ids)}
        connection.execute(new.insert(), sorted(
            _needs(rows), key=lambda need: oldest_first[need["match_run_id"]]))
    op.drop_table(OLD_SHAPE)


def downgrade() -> None:
    _rename(TABLE, NEW_SHAPE)
    op.create_table(
        TABLE,
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
    op.create_index(PARTNER_INDEX, TABLE, ["partner_profile_id"], unique=False)
    old, new = by_need(NEW_SHAPE), by_partner(TABLE)
    connection = op.get_bind()
    for run_ids in _run_batches(connection, old.c.match_run_id):
        needs = connection.execute(
            sa.select(old).where(old.c.match_run_id.in_(run_ids)).order_by(old.c.id)).mappings()
        connection.execute(new.insert(), [
            _recommendation(need, rank, partner) for need in needs
            for rank, partner in enumerate(need["partners"], start=1)])
    op.drop_table(NEW_SHAPE)


def _rename(table: str, to: str) -> None:
    """Rename a table; on PostgreSQL also its primary key's index and its id sequence."""
    op.rename_table(table, to)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'ALTER INDEX "{table}_pkey" RENAME TO "{to}_pkey"')
        op.execute(f'ALTER SEQUENCE "{table}_id_seq" RENAME TO "{to}_id_seq"')


def _run_batches(connection, run_column) -> Iterator[list[str]]:
    """Yield the ids of the runs with rows in `run_column`'s table, oldest first, a batch at
    a time."""
    run_ids = connection.scalars(
        sa.select(match_runs.c.id)
        .where(sa.exists().where(run_column == match_runs.c.id))
        .order_by(match_runs.c.generated_at, match_runs.c.id)).all()
    for start in range(0, len(run_ids), RUNS_PER_BATCH):
        yield run_ids[start:start + RUNS_PER_BATCH]


def _needs(rows) -> list[dict]:
    """Group recommendation rows (by run, need and rank) into one row per need."""
    needs: dict[tuple[str, str], dict] = {}
    for row in rows:
        need = needs.setdefault((row["match_run_id"], row["service_area"]), {
            "match_run_id": row["match_run_id"], "service_area": row["service_area"],
            "rating": row["need_rating"], "partners": [], "top_partner_ids": []})
        need["partners"].append({
            "profile_id": row["partner_profile_id"], "name": row["partner_name"],
            "kind": row["partner_kind"], "gss_code": row["partner_gss_code"],
            "score": row["score"], "strength_rating": row["strength_rating"],
            "reasons": list(row["reasons"])})
        if len(need["top_partner_ids"]) < TOP_PARTNERS:
            need["top_partner_ids"].append(row["partner_profile_id"])
    return list(needs.values())


def _recommendation(need, rank: int, partner: dict) -> dict:
    return {"match_run_id": need["match_run_id"], "service_area": need["service_area"],
            "need_rating": need["rating"], "rank": rank,
            "partner_profile_id": partner["profile_id"], "partner_kind": partner["kind"],
            "partner_name": partner["name"], "partner_gss_code": partner["gss_code"],
            "score": partner["score"], "strength_rating": partner["strength_rating"],
            "reasons": partner["reasons"]}
