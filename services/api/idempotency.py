"""Idempotency-Key: the same key and body from the same client within 24 h replays the first
response.

A key is bound to the client that sent it (stored as a hash of the client's address and the key),
so nobody else can fetch the response, which holds the new profile's token, by sending the same
key. The record names the profile it created: erasing the profile deletes it, and an hourly purge
(shared/operations/purge.py) deletes every record older than KEEP_FOR.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet
from flask_smorest import abort
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from partnermatch.shared.db.models import IdempotencyKey, utcnow
from partnermatch.shared.operations import purge

KEEP_FOR = purge.IDEMPOTENCY_KEPT_FOR
ABANDONED_AFTER = timedelta(minutes=2)  # a claim with no response this old died with its request
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredResponse:
    """A response kept for replay."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def request_hash(document: Any) -> str:
    """Hash a JSON document in canonical form, so key order and spacing do not matter."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"idempotency:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def client_key(client: str, key: str) -> str:
    """Return what is stored for a client's key: a hash binding the key to that client."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        abort(400, message=f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} printable characters.")
    return hashlib.sha256(f"{client}\n{key}".encode()).hexdigest()


def claim(
    sessions: sessionmaker[Session], key: str, digest: str, secret_key: str
) -> StoredResponse | None:
    """Claim a (client-bound) key for this request, or return the response to replay, or abort
    409/422."""
    with sessions() as session, session.begin():
        row = session.get(IdempotencyKey, key)
        if row is not None and _expired(row):
            session.delete(row)
            session.flush()
            row = None
        if row is None:
            session.add(IdempotencyKey(key=key, request_hash=digest))
            return _commit_claim(session)
        _check_reusable(row, digest)
        return replay_row(row, secret_key)


def _commit_claim(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError:
        abort(409, message="A request with this Idempotency-Key is in progress; retry shortly.")
    return None


def _expired(row: IdempotencyKey) -> bool:
    age = utcnow() - row.created_at
    return age > KEEP_FOR or (row.status_code is None and age > ABANDONED_AFTER)


def _check_reusable(row: IdempotencyKey, digest: str) -> None:
    if row.request_hash != digest:
        abort(422, message="This Idempotency-Key was used with a different body.",
              messages={"Idempotency-Key": ["Already used with a different body."]})
    if row.status_code is None:
        abort(409, message="A request with this Idempotency-Key is in progress; retry shortly.")


def replay_row(row: IdempotencyKey, secret_key: str) -> StoredResponse:
    """Decrypt a stored response."""
    stored = json.loads(_fernet(secret_key).decrypt(row.response))
    return StoredResponse(row.status_code, stored["body"], stored["headers"])


def store(session: Session, key: str, response: StoredResponse, secret_key: str,
          profile_id: str) -> None:
    """Keep the response, encrypted, in the caller's transaction (with the work it describes):
    one UPDATE of the claimed row, which is not read again."""
    plain = json.dumps({"body": response.body, "headers": response.headers}).encode()
    session.execute(
        update(IdempotencyKey).where(IdempotencyKey.key == key)
        .values(status_code=response.status, profile_id=profile_id,
                response=_fernet(secret_key).encrypt(plain))
        .execution_options(synchronize_session=False)
    )


def release(sessions: sessionmaker[Session], key: str) -> None:
    """Forget a claim whose request failed, so the client may retry with the same key."""
    with sessions() as session, session.begin():
        session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.key == key, IdempotencyKey.status_code.is_(None)
            )
        )
