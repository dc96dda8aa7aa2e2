"""The `partnermatch` command as a person uses it: its version, and what `partnermatch run` prints
(the address, the ops token and how to make an ops login), followed to a signed-in ops page."""

from __future__ import annotations

import http.cookiejar
import importlib.metadata
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from partnermatch.services.embedded import free_port

PARTNERMATCH = Path(sys.executable).parent / "partnermatch"  # the installed console script
# Settings a developer's shell may carry that would point `run` away from its own folder.
OWN_SETTINGS = ("DATABASE_URL", "REDIS_URL", "VAR_DIR", "OPS_TOKEN", "SECRET_KEY",
                "PUBLIC_BASE_URL", "PARTNERMATCH_ENV")


def test_version_prints_the_installed_package_version():
    run = subprocess.run([str(PARTNERMATCH), "--version"], capture_output=True, text=True,
                         check=True)
    assert run.stdout == f"partnermatch {importlib.metadata.version('partnermatch')}\n"


class Output:
    """Everything a process prints, read as it comes so the pipe never fills."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            time.sleep(0.2)
        raise AssertionError(f"never printed {pattern!r}:\n{''.join(self.lines)}")


@pytest.fixture
def running(tmp_path):
    """`partnermatch run` started as a person would, in a folder of its own."""
    env = {name: value for name, value in os.environ.items() if name not in OWN_SETTINGS}
    process = subprocess.Popen([str(PARTNERMATCH), "run", "--port", str(free_port()),
                                "--no-demo"], cwd=tmp_path, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    output = Output(process.stdout)
    yield output, env
    process.send_signal(signal.SIGINT)  # Ctrl-C: it stops its worker, beat, API and Redis
    try:
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def get(opener, url: str, data: dict | None = None, headers: dict | None = None):
    """GET (or POST a form to) the service on loopback, as a browser would."""
    body = urllib.parse.urlencode(data).encode() if data else None
    headers = {"Accept": "text/html", **(headers or {})}
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 - http only
    return opener.open(request, timeout=30)


def wait_for_the_site(opener, address: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if get(opener, address + "healthz").status == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    raise AssertionError(f"{address} never answered")


@pytest.mark.slow
def test_run_prints_how_to_make_an_ops_login_and_that_login_signs_in(running, tmp_path):
    output, env = running
    address = output.wait_for(r"partnermatch is running at (http://\S+/)$").group(1)
    token = output.wait_for(r"ops token: (\S+)$").group(1)
    how = output.wait_for(r"ops login: create one with `([^`]+)` .*sign in at (http://\S+)$")
    command, ops_page = how.group(1), how.group(2)
    assert len(token) >= 24 and ops_page == address + "ops"
    assert command.endswith(" ops-user add NAME")

    # What the person does next, in another terminal in the same folder.
    password = "a long enough ops password"
    argv = [*shlex.split(command.replace("NAME", "sam")), "--password", password]
    subprocess.run(argv, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=60)

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    wait_for_the_site(opener, address)
    form = get(opener, ops_page + "/login").read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    signed_in = get(opener, ops_page + "/login",
                    {"csrf_token": csrf, "name": "sam", "password": password})
    assert signed_in.url == ops_page and signed_in.status == 200
    assert "sam" in signed_in.read().decode()
    script = urllib.request.build_opener()  # no cookies: a script with the ops token
    figures = get(script, ops_page + "/figures.json", headers={"Authorization": f"Bearer {token}"})
    assert figures.status == 200
