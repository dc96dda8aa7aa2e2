"""Settings: defaults in code, environment overrides, tests pass a mapping.

Values are parsed by environs (marshmallow fields): a value that cannot be used stops start-up
with the setting's name and the reason. Secrets may be given as files (NAME_FILE, e.g. Docker
secrets), and in development a .env file in the working directory is read under the environment.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path

import limits
from environs import Env, EnvValidationError, FileAwareEnv
from marshmallow import ValidationError, validate
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# The public reference data shipped inside the package (shared/reference_data/README.md).
SHIPPED_REFERENCE_DIR = Path(str(resources.files("partnermatch.shared") / "reference_data"))


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
    # In production a PUBLIC_BASE_URL that is not https is refused at start unless this says yes
    # (links in emails carry tokens, and the session cookie is only marked Secure under https).
    ALLOW_HTTP_PUBLIC_BASE_URL: bool = False
    SECRET_KEY: str = ""
    OPS_TOKEN: str = ""
    REQUIRE_EMAIL_CONFIRMATION: bool = True
    ALLOWED_EMAIL_DOMAINS: tuple[str, ...] = ("gov.uk", "gov.scot", "gov.wales", "llyw.cymru")
    RATE_LIMIT_SUBMIT: str = "30/minute"
    RATE_LIMIT_LINK: str = "10/hour"
    # Changes to a profile (API PUT and the web edit): per client, and per profile.
    RATE_LIMIT_CHANGE: str = "60/hour"
    RATE_LIMIT_PROFILE_CHANGE: str = "10/hour"
    # Confirmation emails owed in any 24 hours, per profile and per address.
    CONFIRMATIONS_PER_PROFILE_PER_DAY: int = 3
    CONFIRMATIONS_PER_ADDRESS_PER_DAY: int = 3
    # Ops logins: attempts per client, and failed attempts per account name.
    RATE_LIMIT_OPS_LOGIN: str = "10/minute"
    RATE_LIMIT_OPS_ACCOUNT: str = "5/15 minutes"
    OPS_SESSION_HOURS: float = 8.0
    TRUSTED_PROXY_COUNT: int = 0
    ALLOWED_HOSTS: tuple[str, ...] = ()
    FORCE_HTTPS: bool = False
    RETENTION_DAYS: int = 730
    ALERT_OUTBOX_LAG_SECONDS: int = 60
    ALERT_DEAD_LETTERS: int = 1
    # Where ops find Flower (Celery diagnostics), linked from /ops; empty: no link.
    FLOWER_URL: str = ""
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
    # A worker taking a match event takes up to this many waiting ones and matches them in one
    # transaction (PostgreSQL; 1 matches each event alone)
    MATCH_BATCH_SIZE: int = 16
    EMAIL_MAX_ATTEMPTS: int = 8
    EMAIL_RETRY_BASE_SECONDS: float = 5.0
    EMAIL_RETRY_MAX_SECONDS: float = 300.0
    RELAY_INTERVAL_SECONDS: float = 5.0
    RELAY_GRACE_SECONDS: float = 10.0
    LOG_LEVEL: str = "INFO"
    LOG_FORMAT: str = "json"  # or "text"

    @property
    def outbox_dir(self) -> Path:
        return Path(self.VAR_DIR) / "outbox"

    def as_flask_config(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# Secrets may come from files instead (Docker secrets): NAME_FILE names a file holding the value.
SECRETS = ("SECRET_KEY", "OPS_TOKEN", "SMTP_PASSWORD", "NOTIFY_API_KEY", "DATABASE_URL",
           "REDIS_URL", "RESULT_BACKEND_URL")
_PARSERS = {"str": "str", "int": "int", "float": "float", "bool": "bool", "tuple[str, ...]": "list"}
def _rate_limit(value: str) -> None:
    """Refuse what the rate limiter could not read (it takes "30/minute", "10 per hour")."""
    try:
        limits.parse_many(value)
    except ValueError as error:
        raise ValidationError(f"Not a rate limit such as 30/minute ({error}).") from None


def _database_url(value: str) -> None:
    """Refuse a database URL SQLAlchemy cannot read, or one for a database not supported."""
    if not value:  # SQLite under VAR_DIR
        return
    try:
        backend = make_url(value).get_backend_name()
    except ArgumentError:
        raise ValidationError("Not a database URL such as postgresql+psycopg://...") from None
    if backend not in ("sqlite", "postgresql"):
        raise ValidationError(f"Not a supported database ({backend}): use PostgreSQL or SQLite.")


def _redis_url(value: str) -> None:
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValidationError("Not a Redis URL such as redis://host:6379/0.")


_NOT_NEGATIVE = validate.Range(min=0)
_POSITIVE = validate.Range(min=0, min_inclusive=False)
_CHECKS: dict[str, validate.Validator] = {
    "PARTNERMATCH_ENV": validate.OneOf(["development", "test", "production"]),
    "EMAIL_BACKEND": validate.OneOf(["", "smtp", "file", "notify"]),
    "LOG_FORMAT": validate.OneOf(["json", "text"]),
    "LOG_LEVEL": validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]),
    **dict.fromkeys(("RATE_LIMIT_SUBMIT", "RATE_LIMIT_LINK", "RATE_LIMIT_CHANGE",
                     "RATE_LIMIT_PROFILE_CHANGE", "RATE_LIMIT_OPS_LOGIN",
                     "RATE_LIMIT_OPS_ACCOUNT"), _rate_limit),
    "DATABASE_URL": _database_url,
    "REDIS_URL": _redis_url,
    "RESULT_BACKEND_URL": _redis_url,
    "PUBLIC_BASE_URL": validate.URL(require_tld=False, schemes={"http", "https"}),
    "NOTIFY_BASE_URL": validate.URL(require_tld=False, schemes={"http", "https"}),
    "SMTP_PORT": validate.Range(min=1, max=65535),
    **dict.fromkeys(("SMTP_TIMEOUT", "NOTIFY_TIMEOUT", "TASK_SOFT_TIME_LIMIT", "TASK_TIME_LIMIT",
                     "BROKER_VISIBILITY_TIMEOUT", "TASK_MAX_ATTEMPTS", "EMAIL_MAX_ATTEMPTS",
                     "MATCH_BATCH_SIZE",
                     "EMAIL_RETRY_BASE_SECONDS", "EMAIL_RETRY_MAX_SECONDS",
                     "RELAY_INTERVAL_SECONDS", "RELAY_GRACE_SECONDS", "OPS_SESSION_HOURS",
                     "CONFIRMATIONS_PER_PROFILE_PER_DAY", "CONFIRMATIONS_PER_ADDRESS_PER_DAY"),
                    _POSITIVE),
    **dict.fromkeys(("TRUSTED_PROXY_COUNT", "RETENTION_DAYS", "ALERT_OUTBOX_LAG_SECONDS",
                     "ALERT_DEAD_LETTERS", "INDEX_SHARE_MIN"),
                    _NOT_NEGATIVE),
}


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it and says why, on one line."""


class _Environment(FileAwareEnv):
    """The process environment (and a .env file), NAME_FILE for secrets, a mapping over both."""

    def __init__(self, overrides: Mapping[str, object]) -> None:
        super().__init__(eager=False, strip_whitespace=True)
        self.overrides = overrides

    def _get_value(self, env_key: str, default: object) -> object:
        if env_key in self.overrides:
            value = self.overrides[env_key]
            return os.fspath(value) if isinstance(value, os.PathLike) else value
        file_key = f"{env_key}{self.file_suffix}"
        if env_key not in SECRETS:
            return Env._get_value(self, env_key, default)
        given = [k for k in (env_key, file_key) if k in os.environ or k in self._environ]
        if len(given) == 2:
            raise SettingsError(f"{env_key}: set {env_key} or {file_key}, not both")
        try:
            return super()._get_value(env_key, default)
        except ValueError as error:
            raise SettingsError(f"{file_key}: not a readable file") from error


def load_settings(overrides: Mapping[str, object] | None = None) -> Settings:
    """Build settings from the defaults, a .env file in development, the environment, then
    explicit overrides; a value that cannot be used raises SettingsError naming it."""
    known = {f.name for f in fields(Settings)}
    for name in overrides or {}:
        if name not in known:
            raise KeyError(f"unknown setting {name}")
    env = _Environment(overrides or {})
    if overrides is None and os.environ.get("PARTNERMATCH_ENV", "development") == "development":
        env.read_env(Path.cwd() / ".env", recurse=False)
    values = {f.name: _parse(env, f.name, f.type) for f in fields(Settings)}
    try:
        env.seal()
    except EnvValidationError as error:
        problems = "; ".join(f"{name}: {' '.join(map(str, messages))}"
                             for name, messages in error.error_messages.items())
        raise SettingsError(problems) from None
    settings = replace(Settings(), **{k: v for k, v in values.items() if v is not _UNSET})
    _check_email_backend(settings)
    if not settings.DATABASE_URL:
        database = Path(settings.VAR_DIR) / "partnermatch.db"
        settings = replace(settings, DATABASE_URL=f"sqlite:///{database}")
    if not settings.SECRET_KEY:
        settings = replace(settings, SECRET_KEY=_development_secret(settings))
    _check_public_base_url(settings)
    return settings


_UNSET = object()


def _parse(env: _Environment, name: str, kind: str) -> object:
    """Parse one setting with the marshmallow field for its type; _UNSET when it is not given."""
    if kind not in _PARSERS:  # a new setting of another type needs its parser named here
        raise TypeError(f"setting {name}: no parser for {kind}; use one of {sorted(_PARSERS)}")
    parser = getattr(env, _PARSERS[kind])
    value = parser(name, _UNSET, validate=_CHECKS.get(name))
    if kind.startswith("tuple") and isinstance(value, list):
        return tuple(part.strip().lower() for part in value if part.strip())
    return value


def _check_email_backend(settings: Settings) -> None:
    """Refuse an email backend without what it needs: Notify's key and template, an SMTP host."""
    needed = {"notify": ("NOTIFY_API_KEY", "NOTIFY_TEMPLATE_ID"), "smtp": ("SMTP_HOST",)}
    for name in needed.get(settings.EMAIL_BACKEND, ()):
        if not getattr(settings, name):
            raise SettingsError(f"{name}: required when EMAIL_BACKEND={settings.EMAIL_BACKEND}")


def _check_public_base_url(settings: Settings) -> None:
    """Refuse to start in production with links that would travel over plain HTTP."""
    if settings.PARTNERMATCH_ENV != "production" or settings.ALLOW_HTTP_PUBLIC_BASE_URL:
        return
    if not settings.PUBLIC_BASE_URL.lower().startswith("https://"):
        raise SettingsError("PUBLIC_BASE_URL: must be https:// when PARTNERMATCH_ENV=production; "
                            "set ALLOW_HTTP_PUBLIC_BASE_URL=true to allow plain HTTP")


def _development_secret(settings: Settings) -> str:
    if settings.PARTNERMATCH_ENV == "production":
        raise SettingsError("SECRET_KEY: required when PARTNERMATCH_ENV=production")
    path = Path(settings.VAR_DIR) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
