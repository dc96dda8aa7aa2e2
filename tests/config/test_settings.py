"""Settings: parsed by environs, named in every error, secrets from files, .env in development."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from partnermatch.config.settings import (
    SHIPPED_REFERENCE_DIR,
    Settings,
    SettingsError,
    load_settings,
)
from partnermatch.services.cli import main


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """Start each test in an empty folder with no partnermatch setting in the environment."""
    for f in fields(Settings):
        monkeypatch.delenv(f.name, raising=False)
        monkeypatch.delenv(f"{f.name}_FILE", raising=False)
    monkeypatch.chdir(tmp_path)


def test_every_default_is_kept(tmp_path):
    settings = load_settings()
    var = tmp_path / "var"
    folders = settings.VAR_DIR, settings.DATABASE_URL, settings.REFERENCE_DATA_DIR
    assert folders == (str(var), f"sqlite:///{var / 'partnermatch.db'}", str(SHIPPED_REFERENCE_DIR))
    assert settings.SMTP_PORT == 25 and settings.SMTP_STARTTLS is False
    assert settings.ALLOWED_EMAIL_DOMAINS == ("gov.uk", "gov.scot", "gov.wales", "llyw.cymru")
    assert settings.EMAIL_BACKEND == "" and settings.TASK_TIME_LIMIT == 60
    assert (tmp_path / "var" / "secret_key").read_text() == settings.SECRET_KEY


def test_the_environment_and_a_mapping_are_parsed_by_type(monkeypatch):
    monkeypatch.setenv("SMTP_STARTTLS", "yes")
    monkeypatch.setenv("ALLOWED_HOSTS", " A.example , .b.example,")
    settings = load_settings({"TASK_TIME_LIMIT": "40", "EMAIL_RETRY_BASE_SECONDS": "0.5",
                              "SECRET_KEY": "k"})
    assert settings.SMTP_STARTTLS is True
    assert settings.ALLOWED_HOSTS == ("a.example", ".b.example")
    assert settings.TASK_TIME_LIMIT == 40 and settings.EMAIL_RETRY_BASE_SECONDS == 0.5


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("SMTP_STARTTLS", "ture", "Not a valid boolean"),
    ("TASK_TIME_LIMIT", "abc", "Not a valid integer"),
    ("SMTP_TIMEOUT", "ten", "Not a valid number"),
    ("SMTP_PORT", "70000", "less than or equal to 65535"),
    ("TASK_TIME_LIMIT", "0", "greater than 0"),
    ("EMAIL_BACKEND", "sendgrid", "Must be one of"),
    ("PARTNERMATCH_ENV", "prod", "Must be one of"),
    ("LOG_FORMAT", "xml", "Must be one of"),
    ("LOG_LEVEL", "verbose", "Must be one of: DEBUG"),
    ("RATE_LIMIT_SUBMIT", "30 per fortnight", "Not a rate limit such as 30/minute"),
    ("RATE_LIMIT_PROFILE_CHANGE", "often", "Not a rate limit such as 30/minute"),
    ("RATE_LIMIT_OPS_ACCOUNT", "5", "Not a rate limit such as 30/minute"),
    ("CONFIRMATIONS_PER_ADDRESS_PER_DAY", "0", "greater than 0"),
    ("OPS_SESSION_HOURS", "-8", "greater than 0"),
    ("DATABASE_URL", "mysql://db/partnermatch", "use PostgreSQL or SQLite"),
    ("DATABASE_URL", "partnermatch.db", "Not a database URL"),
    ("REDIS_URL", "localhost:6379", "Not a Redis URL"),
    ("PUBLIC_BASE_URL", "partnermatch.example.gov.uk", "Not a valid URL"),
])
def test_a_bad_value_is_refused_with_its_name_and_reason(monkeypatch, name, value, reason):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value).startswith(f"{name}: ") and reason in str(raised.value)


def test_a_bad_secret_is_named_but_never_shown(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://partnermatch:hunter2-secret@db/partnermatch")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "DATABASE_URL" in str(raised.value) and "hunter2" not in str(raised.value)


def test_every_bad_value_is_named_at_once(monkeypatch):
    monkeypatch.setenv("SMTP_STARTTLS", "ture")
    monkeypatch.setenv("TASK_TIME_LIMIT", "abc")
    with pytest.raises(SettingsError, match="SMTP_STARTTLS: .*; TASK_TIME_LIMIT: "):
        load_settings()


def test_an_unknown_setting_in_a_mapping_is_refused():
    with pytest.raises(KeyError, match="unknown setting SMTP_HOSTNAME"):
        load_settings({"SMTP_HOSTNAME": "mail.example"})


def test_notify_needs_its_key_and_template(monkeypatch):
    monkeypatch.setenv("EMAIL_BACKEND", "notify")
    with pytest.raises(SettingsError, match="NOTIFY_API_KEY: required when EMAIL_BACKEND=notify"):
        load_settings()
    with pytest.raises(SettingsError, match="SMTP_HOST: required when EMAIL_BACKEND=smtp"):
        load_settings({"EMAIL_BACKEND": "smtp"})


def test_production_needs_a_secret_key(monkeypatch):
    monkeypatch.setenv("PARTNERMATCH_ENV", "production")
    with pytest.raises(SettingsError, match="SECRET_KEY: required"):
        load_settings()


@pytest.mark.parametrize(("name", "value"), [
    ("SECRET_KEY", "a-long-random-key"), ("OPS_TOKEN", "an-ops-token"),
    ("SMTP_PASSWORD", "smtp password"), ("NOTIFY_API_KEY", "partnermatch-live-key"),
    ("DATABASE_URL", "postgresql+psycopg://partnermatch:pw@db/partnermatch"),
    ("REDIS_URL", "redis://:pw@redis:6379/0"),
])
def test_a_secret_can_come_from_a_file(monkeypatch, tmp_path, name, value):
    secret = tmp_path / "run-secrets" / name.lower()
    secret.parent.mkdir(exist_ok=True)
    secret.write_text(f"{value}\n")  # Docker secrets often end with a newline
    monkeypatch.setenv(f"{name}_FILE", str(secret))
    assert getattr(load_settings(), name) == value


def test_a_secret_given_twice_or_from_a_missing_file_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="SECRET_KEY_FILE: not a readable file"):
        load_settings()
    (tmp_path / "key").write_text("from-file")
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("SECRET_KEY", "from-environment")
    with pytest.raises(SettingsError, match="set SECRET_KEY or SECRET_KEY_FILE, not both"):
        load_settings()


def test_a_dot_env_file_is_read_in_development_under_the_environment(monkeypatch, tmp_path):
    (tmp_path / "secret").write_text("key-from-a-file")
    Path(".env").write_text("SMTP_HOST=mail.example\nSMTP_PORT=2525\nMAIL_FROM=a@b.example\n"
                            f"SECRET_KEY_FILE={tmp_path / 'secret'}\n")
    monkeypatch.setenv("SMTP_PORT", "587")
    settings = load_settings()
    assert (settings.SMTP_HOST, settings.SMTP_PORT) == ("mail.example", 587)
    assert settings.SECRET_KEY == "key-from-a-file"


def test_a_dot_env_file_is_checked_too(monkeypatch):
    Path(".env").write_text("SMTP_STARTTLS=ture\n")
    with pytest.raises(SettingsError, match="SMTP_STARTTLS"):
        load_settings()


def test_a_dot_env_file_is_not_read_in_production_or_by_tests_passing_a_mapping(monkeypatch):
    Path(".env").write_text("SMTP_HOST=mail.example\n")
    assert load_settings({"SECRET_KEY": "k"}).SMTP_HOST == ""
    monkeypatch.setenv("PARTNERMATCH_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://partnermatch.example")  # production: https
    assert load_settings().SMTP_HOST == ""


@pytest.mark.parametrize("command", [["api"], ["worker"], ["run"], ["beat"], ["db", "upgrade"]])
@pytest.mark.parametrize(("name", "value"), [("SMTP_STARTTLS", "ture"),
                                             ("TASK_TIME_LIMIT", "abc")])
def test_a_bad_setting_stops_each_command_with_one_line(command, name, value):
    result = CliRunner().invoke(main, command, env={name: value, "REDIS_URL": "redis://x:1"})
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error: invalid setting")
    assert f"{name}: Not a valid" in result.output
    assert not Path("var").exists()  # stopped before anything was written


def test_the_installed_command_stops_with_one_line(monkeypatch):
    monkeypatch.setenv("TASK_TIME_LIMIT", "abc")
    command = [str(Path(sys.executable).with_name("partnermatch")), "worker"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False,
                          env=os.environ)
    assert done.returncode == 1
    assert done.stderr == "Error: invalid setting TASK_TIME_LIMIT: Not a valid integer.\n"


def test_every_setting_has_a_parser_for_its_type():
    from partnermatch.config.settings import _PARSERS

    assert {f.type for f in fields(Settings)} <= set(_PARSERS)
