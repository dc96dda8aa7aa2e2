"""Settings: defaults in code, environment overrides, tests pass a mapping."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path

# The source checkout (tests, benchmarks and the front-end build use it); nothing writable lives
# here: an installed package's PROJECT_ROOT is site-packages.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The public reference data shipped inside the package (shared/reference_data/README.md).
SHIPPED_REFERENCE_DIR = Path(str(resources.files("shared") / "reference_data"))


def _working_var_dir() -> str:
    """var/ under the directory the service is started from, never beside the installed code."""
    return str(Path.cwd() / "var")


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, named as in DESIGN.md."""

    PARTNERMATCH_ENV: str = "development"
    # Empty: SQLite at VAR_DIR/partnermatch.db.
    DATABASE_URL: str = ""
    REDIS_URL: str = ""
    # Only benchmarks wait on task results; without a backend, publishing never waits on one.
    RESULT_BACKEND_URL: str = ""
    # "smtp", "notify" (GOV.UK Notify) or "file"; empty: SMTP when SMTP_HOST is set, else files.
    EMAIL_BACKEND: str = ""
    SMTP_HOST: str = ""
    SMTP_PORT: int = 25
    SMTP_USERNAME: str = ""
    SMTP_PASSWORD: str = ""
    SMTP_STARTTLS: bool = False
    SMTP_TIMEOUT: float = 10.0
    MAIL_FROM: str = "partnermatch@localhost"
    NOTIFY_API_KEY: str = ""
    # A Notify email template whose subject is ((subject)) and whose body is ((body)).
    NOTIFY_TEMPLATE_ID: str = ""
    NOTIFY_BASE_URL: str = "https://api.notifications.service.gov.uk"
    NOTIFY_TIMEOUT: float = 10.0
    PUBLIC_BASE_URL: str = "http://127.0.0.1:5000"
    SECRET_KEY: str = ""
    OPS_TOKEN: str = ""
    REQUIRE_EMAIL_CONFIRMATION: bool = True
    ALLOWED_EMAIL_DOMAINS: tuple[str, ...] = ("gov.uk", "gov.scot", "gov.wales", "llyw.cymru")
    RATE_LIMIT_SUBMIT: str = "30/minute"
    RATE_LIMIT_LINK: str = "10/hour"
    TRUSTED_PROXY_COUNT: int = 0
    ALLOWED_HOSTS: tuple[str, ...] = ()
    FORCE_HTTPS: bool = False
    RETENTION_DAYS: int = 730
    ALERT_OUTBOX_LAG_SECONDS: int = 60
    ALERT_DEAD_LETTERS: int = 1
    REFERENCE_DATA_DIR: str = str(SHIPPED_REFERENCE_DIR)
    VAR_DIR: str = field(default_factory=_working_var_dir)
    # Worker processes of one machine share the matching index from INDEX_SHARE_MIN profiles on,
    # as memory-mapped files under INDEX_DIR (empty: partnermatch-index in the temporary folder)
    INDEX_DIR: str = ""
    INDEX_SHARE_MIN: int = 50_000
    # Celery: the visibility timeout must stay above the hard time limit, or tasks run twice.
    TASK_SOFT_TIME_LIMIT: int = 50
    TASK_TIME_LIMIT: int = 60
    BROKER_VISIBILITY_TIMEOUT: int = 90
    TASK_MAX_ATTEMPTS: int = 5
    EMAIL_MAX_ATTEMPTS: int = 8
    EMAIL_RETRY_BASE_SECONDS: float = 5.0
    EMAIL_RETRY_MAX_SECONDS: float = 300.0
    RELAY_INTERVAL_SECONDS: float = 5.0
    RELAY_GRACE_SECONDS: float = 10.0
    LOG_LEVEL: str = "INFO"
    LOG_FORMAT: str = "json"  # or "text"
    # Fault-injection for the reliability tests; ignored unless PARTNERMATCH_ENV=test.
    TEST_MATCH_DELAY_SECONDS: float = 0.0

    @property
    def outbox_dir(self) -> Path:
        return Path(self.VAR_DIR) / "outbox"

    def as_flask_config(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _coerce(kind: type | str, raw: object) -> object:
    if not isinstance(raw, str):
        return raw
    kind = str(kind)
    if "bool" in kind:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if "int" in kind:
        return int(raw)
    if "float" in kind:
        return float(raw)
    if "tuple" in kind:
        return tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    return raw


def load_settings(overrides: Mapping[str, object] | None = None) -> Settings:
    """Build settings from the defaults, then the environment, then explicit overrides."""
    values: dict[str, object] = {}
    for f in fields(Settings):
        if f.name in os.environ:
            values[f.name] = _coerce(f.type, os.environ[f.name])
    for name, raw in (overrides or {}).items():
        kind = next((f.type for f in fields(Settings) if f.name == name), None)
        if kind is None:
            raise KeyError(f"unknown setting {name}")
        values[name] = _coerce(kind, raw)
    settings = replace(Settings(), **values)
    if not settings.DATABASE_URL:
        database = Path(settings.VAR_DIR) / "partnermatch.db"
        settings = replace(settings, DATABASE_URL=f"sqlite:///{database}")
    if not settings.SECRET_KEY:
        settings = replace(settings, SECRET_KEY=_development_secret(settings))
    return settings


def _development_secret(settings: Settings) -> str:
    if settings.PARTNERMATCH_ENV == "production":
        raise RuntimeError("SECRET_KEY is required when PARTNERMATCH_ENV=production")
    path = Path(settings.VAR_DIR) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
