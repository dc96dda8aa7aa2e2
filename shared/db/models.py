"""SQLAlchemy models: the system of record for profiles, match runs, events and deliveries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from partnermatch.shared.db.statuses import DeliveryStatus, IntroductionStatus, RunStatus


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """Return a new random UUID as a string."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC, also on SQLite (which stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict: JSON, list: JSON}


class Council(Base):
    """A council from the public register, with the public indicators used for matching."""

    __tablename__ = "councils"

    gss_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    code: Mapped[str] = mapped_column(String(8), index=True)
    name: Mapped[str] = mapped_column(String(200))
    official_name: Mapped[str] = mapped_column(String(300))
    council_type: Mapped[str] = mapped_column(String(8))
    nation: Mapped[str] = mapped_column(String(40))
    region: Mapped[str] = mapped_column(String(60))
    population: Mapped[int | None] = mapped_column(Integer)
    dfe_la_number: Mapped[int | None] = mapped_column(Integer)
    place: Mapped[dict] = mapped_column(default=dict)
    ofsted: Mapped[list] = mapped_column(default=list)
    outcomes: Mapped[dict] = mapped_column(default=dict)
    # The council's own web domains (e.g. "leeds.gov.uk"), from the register's public data
    web_domains: Mapped[list | None] = mapped_column(default=list)
    # Indexed: its maximum stamps the register (shared/reference/register.py register_stamp).
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CouncilCode(Base):
    """Every code a council is known by (current, former, newer) mapped to its register code."""

    __tablename__ = "council_codes"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    gss_code: Mapped[str] = mapped_column(ForeignKey("councils.gss_code", ondelete="CASCADE"))


class Profile(Base):
    """A council's or supplier's current profile; older versions live in ProfileVersion."""

    __tablename__ = "profiles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    gss_code: Mapped[str | None] = mapped_column(ForeignKey("councils.gss_code"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    fields: Mapped[dict] = mapped_column(default=dict)
    contact_email: Mapped[str] = mapped_column(String(320), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    approved: Mapped[bool] = mapped_column(Boolean, default=True)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whether contact_email is confirmed (kept with the profile, from ContactAddress, so that
    # matching can tell candidates apart without reading addresses); see
    # shared/reference/addresses.py
    contact_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Councils only: council_domain | shared_service | unverified | verified | rejected
    address_status: Mapped[str | None] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    council: Mapped[Council | None] = relationship(lazy="joined")
    versions: Mapped[list[ProfileVersion]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class ProfileVersion(Base):
    """One submitted version of a profile, kept for audit and for matching that version."""

    __tablename__ = "profile_versions"
    __table_args__ = (UniqueConstraint("profile_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    fields: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactAddress(Base):
    """An email address we have written to: whether it is confirmed or has opted out."""

    __tablename__ = "contact_addresses"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    confirmed_at: Mapped[datetime | None] = mapped_column()
    unsubscribed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEvent(Base):
    """An event written in the same transaction as its cause; the relay publishes it until done."""

    __tablename__ = "outbox_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    topic: Mapped[str] = mapped_column(String(60))
    profile_id: Mapped[str | None] = mapped_column(String(36), index=True)
    profile_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column()
    publish_count: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(index=True)


class MatchRun(Base):
    """The result of matching one version of one profile."""

    __tablename__ = "match_runs"
    __table_args__ = (UniqueConstraint("profile_id", "profile_version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    profile_id: Mapped[str] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    profile_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.READY)
    model_version: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str | None] = mapped_column(String(36))
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the index its ranking came from had last caught up with the database (every change
    # committed before it was in the index): a match's catch-up, or the refresh pass that replaced
    # the ranking. Null for runs stored before it was recorded.
    indexed_at: Mapped[datetime | None] = mapped_column()
    # When freshness last re-ranked this run for newcomers, and the newcomer whose arrival in the
    # top partners replaced the ranking in place (shared/recommendations/refresh.py)
    checked_at: Mapped[datetime | None] = mapped_column()
    refreshed_by: Mapped[str | None] = mapped_column(String(36))

    # One row for each need that has partners: the partners recommended for it
    needs: Mapped[list[NeedRecommendations]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="NeedRecommendations.id"
    )

    @property
    def recommendations(self) -> list[Recommendation]:
        """Every partner recommended for every need, best first within each need."""
        return [
            Recommendation.of(need, rank, partner)
            for need in self.needs
            for rank, partner in enumerate(need.partners, start=1)
        ]


class NeedRecommendations(Base):
    """The partners recommended for one need in a match run, best first.

    The partners are one JSON document (as ``shared/recommendations/runs.py`` writes them):
    a run is a few rows, one per need that has partners, rather than a row per partner.
    """

    __tablename__ = "recommendations"
    __table_args__ = (UniqueConstraint("match_run_id", "service_area"),)

    # Rows are numbered as written: a worker's index counts the new ones since it last looked.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    match_run_id: Mapped[str] = mapped_column(ForeignKey("match_runs.id", ondelete="CASCADE"))
    service_area: Mapped[str] = mapped_column(String(40))
    rating: Mapped[int] = mapped_column(Integer)
    # [{"profile_id", "name", "kind", "gss_code", "score", "strength_rating", "reasons"}, ...]
    partners: Mapped[list] = mapped_column(default=list)
    # The first few partners' ids (what an email shows), read without the whole document by the
    # indexes counting recommendations and by freshness comparing tops.
    top_partner_ids: Mapped[list] = mapped_column(default=list)


@dataclass(frozen=True)
class Recommendation:
    """One partner recommended for one need, as read from its need's document."""

    service_area: str
    need_rating: int
    rank: int
    partner_profile_id: str
    partner_kind: str
    partner_name: str
    partner_gss_code: str | None
    score: float
    strength_rating: int
    reasons: tuple[str, ...]

    @classmethod
    def of(cls, need: NeedRecommendations, rank: int, partner: dict) -> Recommendation:
        return cls(need.service_area, need.rating, rank, partner["profile_id"], partner["kind"],
                   partner["name"], partner["gss_code"], partner["score"],
                   partner["strength_rating"], tuple(partner["reasons"]))


class EmailDelivery(Base):
    """One email, claimed before it is sent so a retry never sends it twice."""

    __tablename__ = "email_deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    purpose: Mapped[str] = mapped_column(String(30))
    profile_id: Mapped[str | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL"), index=True
    )
    match_run_id: Mapped[str | None] = mapped_column(String(36))
    # An email about an introduction goes when the introduction does (either profile erased).
    introduction_id: Mapped[str | None] = mapped_column(
        ForeignKey("introductions.id", ondelete="CASCADE"), index=True
    )
    to_address: Mapped[str | None] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column()
    claimed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()


class TaskAttempt(Base):
    """How many times a task has started for one id, so a poison task ends in the dead letters."""

    __tablename__ = "task_attempts"

    task_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeadLetter(Base):
    """A task that gave up, kept in the database because the Redis transport has no DLQ."""

    __tablename__ = "dead_letters"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    task_name: Mapped[str] = mapped_column(String(120))
    task_key: Mapped[str] = mapped_column(String(200), index=True)
    task_args: Mapped[list] = mapped_column(default=list)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolution: Mapped[str | None] = mapped_column(String(20))


class IdempotencyKey(Base):
    """A client's Idempotency-Key: in progress until the first response is stored (encrypted).

    `key` is a hash of the client and the key it sent, so one client cannot replay another's
    response; `profile_id` names the profile the response created, so erasure deletes it.
    """

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[bytes | None] = mapped_column(LargeBinary)
    profile_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Introduction(Base):
    """A request to be introduced to a partner that did not share its contact details."""

    __tablename__ = "introductions"
    __table_args__ = (UniqueConstraint("requester_profile_id", "partner_profile_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    requester_profile_id: Mapped[str] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), index=True
    )
    partner_profile_id: Mapped[str] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=IntroductionStatus.REQUESTED)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()


class Feedback(Base):
    """An answer to "Was this useful?" from a recommendation email."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    match_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("match_runs.id", ondelete="SET NULL"), index=True
    )
    partner_profile_id: Mapped[str | None] = mapped_column(String(36))
    useful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OpsUser(Base):
    """An operations login; the password is stored as a salted hash."""

    __tablename__ = "ops_users"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OpsSession(Base):
    """A signed-in ops user: the cookie holds a random id, this row holds its hash and expiry.

    Logging out deletes the row; removing the user deletes all of the user's rows.
    """

    __tablename__ = "ops_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(
        ForeignKey("ops_users.name", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AuditEntry(Base):
    """One action taken by operations staff (who, what, on which record)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str | None] = mapped_column(String(120))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class FormDraft(Base):
    """Answers to the web form between its pages; emptied once submitted, dropped when stale.

    Its id is a secret kept in the browser's session and in the check-answers page's hidden
    field, so a second press of "Submit" finds the draft already submitted and shows that result.
    """

    __tablename__ = "form_drafts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    answers: Mapped[dict] = mapped_column(default=dict)
    profile_id: Mapped[str | None] = mapped_column(
        ForeignKey("profiles.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    submitted_at: Mapped[datetime | None] = mapped_column()


class UsedLink(Base):
    """A single-use private link that has been used (kept until it would have expired anyway)."""

    __tablename__ = "used_links"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class LinkRequest(Base):
    """Someone asked for a link to an address's profiles: the worker looks the address up.

    The request only stores this row, whether or not the address is known, so how long it takes
    says nothing about the address. The worker deletes the row once it has handled it.
    """

    __tablename__ = "link_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    published_at: Mapped[datetime | None] = mapped_column()


class ConfirmationSent(Base):
    """A confirmation email owed, counted against the daily caps per profile and per address.

    Both are keyed hashes (never the address or the id themselves), so erasing a profile does
    not reset the count and the table holds no personal data; rows are purged after a day.
    """

    __tablename__ = "confirmations_sent"
    # An address's count within the cap window reads this index alone.
    __table_args__ = (Index("ix_confirmations_sent_address_window", "address_key", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address_key: Mapped[str] = mapped_column(String(64))
    profile_key: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
