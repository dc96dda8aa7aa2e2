"""What a running API process holds: settings, the database engine and the event publisher."""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from partnermatch.config.settings import Settings
from partnermatch.services.api.publisher import Publisher
from partnermatch.shared.db.engine import make_engine, make_read_sessionmaker, make_sessionmaker
from partnermatch.shared.notifications.owed import ConfirmationPolicy
from partnermatch.shared.outbox.events import install_collector


@dataclass
class Runtime:
    """The live objects of one API process, created by the app factory, never at import."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    publisher: Any = None
    caches: dict[str, Any] = field(default_factory=dict)
    read_sessions: sessionmaker[Session] | None = None  # for requests that only read

    @property
    def confirmation(self) -> ConfirmationPolicy:
        """Whether addresses must be confirmed, and the daily caps on confirmation emails."""
        s = self.settings
        return ConfirmationPolicy(s.REQUIRE_EMAIL_CONFIRMATION, s.SECRET_KEY,
                                  s.CONFIRMATIONS_PER_PROFILE_PER_DAY,
                                  s.CONFIRMATIONS_PER_ADDRESS_PER_DAY)


def init_app(app: Flask, settings: Settings) -> Runtime:
    """Create the runtime for an app and keep it in app.extensions."""
    engine = make_engine(settings.DATABASE_URL)
    # A server that forks after creating the app (gunicorn's preload_app) must not hand the
    # parent's pooled connections to its children: each child starts with an empty pool.
    _dispose_in_child(engine)
    runtime = Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine),
                      read_sessions=make_read_sessionmaker(engine))
    if settings.REDIS_URL:
        runtime.publisher = Publisher(settings)
        install_collector(runtime.sessions, runtime.publisher.publish)
    app.extensions["partnermatch"] = runtime
    return runtime


def _dispose_in_child(engine: Engine) -> None:
    """Empty the engine's pool in a forked child (a weak reference: apps come and go in tests)."""
    ref = weakref.ref(engine)

    def _after_fork() -> None:
        forked = ref()
        if forked is not None:
            forked.dispose(close=False)

    os.register_at_fork(after_in_child=_after_fork)


def runtime() -> Runtime:
    """Return the runtime of the current app."""
    return current_app.extensions["partnermatch"]
