"""What a worker process holds: its database engine, its matching index and its email sender.

Built lazily in each process (after the prefork pool forks), never at import, and rebuilt if the
process finds itself in a new PID, so no connection is ever shared across a fork.

With many profiles the processes of a machine share one index
(``partnermatch.shared.matching.snapshot``) under the ``INDEX_DIR`` setting (default:
``partnermatch-index`` in the system's temporary folder), from ``INDEX_SHARE_MIN`` profiles on.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from celery import Celery
from celery.signals import worker_process_shutdown, worker_shutdown

from partnermatch.config.settings import Settings
from partnermatch.shared.db.engine import (
    make_counter_sessionmaker,
    make_engine,
    make_read_sessionmaker,
    make_sessionmaker,
    make_statement_sessionmaker,
)
from partnermatch.shared.email import EmailSender, NotifySettings, sender_from_settings
from partnermatch.shared.matching.snapshot import SnapshotStore, store_folder
from partnermatch.shared.notifications.delivery import MailSettings
from partnermatch.shared.notifications.owed import ConfirmationPolicy
from partnermatch.shared.outbox.events import Work, install_collector
from partnermatch.shared.recommendations.live_index import CandidateIndex

log = logging.getLogger(__name__)


@dataclass
class WorkerRuntime:
    """The live objects of one worker process."""

    settings: Settings
    celery: Celery
    pid: int = field(default_factory=os.getpid)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings.DATABASE_URL)
        self.sessions = make_sessionmaker(self.engine)
        self.read_sessions = make_read_sessionmaker(self.engine)
        self.counter_sessions = make_counter_sessionmaker(self.engine)  # attempt counts
        self.statement_sessions = make_statement_sessionmaker(self.engine)  # claims, outcomes
        install_collector(self.sessions, self.publish)
        self._index: CandidateIndex | None = None
        self.sender: EmailSender = sender_from_settings(
            self.settings.SMTP_HOST, self.settings.SMTP_PORT, self.settings.SMTP_USERNAME,
            self.settings.SMTP_PASSWORD, self.settings.SMTP_STARTTLS,
            self.settings.SMTP_TIMEOUT, self.settings.outbox_dir,
            backend=self.settings.EMAIL_BACKEND,
            notify=NotifySettings(self.settings.NOTIFY_API_KEY, self.settings.NOTIFY_TEMPLATE_ID,
                                  self.settings.NOTIFY_BASE_URL, self.settings.NOTIFY_TIMEOUT),
        )
        self.confirmation = ConfirmationPolicy(
            self.settings.REQUIRE_EMAIL_CONFIRMATION, self.settings.SECRET_KEY,
            self.settings.CONFIRMATIONS_PER_PROFILE_PER_DAY,
            self.settings.CONFIRMATIONS_PER_ADDRESS_PER_DAY)
        self.mail = MailSettings(
            secret_key=self.settings.SECRET_KEY, public_base_url=self.settings.PUBLIC_BASE_URL,
            mail_from=self.settings.MAIL_FROM, max_attempts=self.settings.EMAIL_MAX_ATTEMPTS,
            retry_base_seconds=self.settings.EMAIL_RETRY_BASE_SECONDS,
            retry_max_seconds=self.settings.EMAIL_RETRY_MAX_SECONDS,
            reference_data_dir=self.settings.REFERENCE_DATA_DIR,
        )

    def index(self) -> CandidateIndex:
        """Return this process's matching index, built on first use."""
        if self._index is None:
            with self.read_sessions() as session:  # seconds of reading: never block writers
                self._index = CandidateIndex(session, self.index_store())
        return self._index

    def index_store(self) -> SnapshotStore:
        """Return where this machine's processes share the index of this database."""
        root = Path(self.settings.INDEX_DIR or Path(tempfile.gettempdir()) / "partnermatch-index")
        return SnapshotStore(store_folder(root, self.settings.DATABASE_URL),
                             self.settings.INDEX_SHARE_MIN)

    def publish(self, work: list[Work]) -> None:
        """Publish committed work; a failure is logged and left to the relay."""
        for item in work:
            try:
                self.celery.send_task(item.task, args=item.args, task_id=item.task_id,
                                      retry=False)
            except Exception as error:  # noqa: BLE001 - the relay re-publishes from the database
                log.warning("publish of %s failed (%s); the relay will retry",
                            item.task, type(error).__name__)

    def close(self) -> None:
        """Say goodbye to the mail server (a kept SMTP connection) and the database."""
        try:
            close_sender = getattr(self.sender, "close", None)
            if close_sender is not None:
                close_sender()
        finally:
            counter = self.counter_sessions.kw["bind"]
            if counter is not self.engine:
                counter.engine.dispose()
            self.engine.dispose()


_current: WorkerRuntime | None = None


def worker_runtime(celery: Celery) -> WorkerRuntime:
    """Return the runtime of this process, creating it after a fork."""
    global _current
    if _current is None or _current.pid != os.getpid():
        _current = WorkerRuntime(celery.conf.partnermatch_settings, celery)
    return _current


@worker_process_shutdown.connect  # a prefork pool process exiting
@worker_shutdown.connect  # the worker itself, which runs the tasks with the solo pool
def close_runtime(**_kwargs) -> None:
    """Close this process's connections as it shuts down."""
    global _current
    if _current is not None and _current.pid == os.getpid():
        runtime, _current = _current, None
        runtime.close()
