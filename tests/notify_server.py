"""A local HTTP server that speaks GOV.UK Notify's v2 API as documented, for tests.

POST /v2/notifications/email and GET /v2/notifications (by reference), each behind a JWT bearer
token signed with the API key's secret (HS256, `iss` the service id, `iat` within 30 seconds),
answering Notify's JSON and its error envelope: {"status_code", "errors": [{"error", "message"}]}.
A test can make it answer the next requests with an error, or hang up after reading a request.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
API_KEY = f"partnermatch_test-{SERVICE_ID}-{SECRET}"
TEMPLATE_ID = "f33517ff-2a88-4f6e-b855-c550268ce08a"
_PLACEHOLDER = re.compile(r"\(\(([^()]+)\)\)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

# Notify's documented error answers.
ERRORS = {
    400: ("BadRequestError", "Can't send to this recipient using a team-only API key"),
    403: ("AuthError", "Invalid token: API key not found"),
    429: ("RateLimitError",
          "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"),
    500: ("Exception", "Internal server error"),
    503: ("Exception", "Service unavailable"),
}


@dataclass
class Template:
    """An email template as a Notify service keeps it."""

    subject: str = "((subject))"
    body: str = "((body))"
    version: int = 1


@dataclass
class NotifyState:
    """What the fake service holds, and what a test told it to do next."""

    templates: dict[str, Template] = field(default_factory=lambda: {TEMPLATE_ID: Template()})
    notifications: list[dict] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses for the next POSTs, in turn
    always: int | None = None  # a status for every POST until cleared
    hang_up_after_accepting: int = 0  # accept this many POSTs, then close without answering
    answer_delay: float = 0.0
    posts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def emails_to(self, address: str) -> list[dict]:
        with self.lock:
            return [n for n in self.notifications if n["email_address"] == address]

    def wait_for(self, predicate, count: int = 1, timeout: float = 30) -> list[dict]:
        """Wait until `count` notifications match, and return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [n for n in self.notifications if predicate(n)]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"expected {count} notifications; have {len(self.notifications)}")


class NotifyHandler(BaseHTTPRequestHandler):
    """Notify's v2 endpoints for email."""

    server: NotifyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # noqa: A002 - quiet in tests
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if urlsplit(self.path).path != "/v2/notifications/email":
            return self._error(404, "BadRequestError", "Not found")
        if not self._authorised():
            return None
        state = self.server.state
        with state.lock:
            state.posts += 1
            status = state.answers.pop(0) if state.answers else state.always
        if status is not None:
            return self._error(status, *ERRORS[status])
        return self._send_email(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/v2/notifications":
            return self._error(404, "BadRequestError", "Not found")
        if not self._authorised():
            return None
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.server.state.lock:
            found = [n["answer"] for n in reversed(self.server.state.notifications)
                     if all(n["answer"].get(k) == v for k, v in query.items()
                            if k in ("reference", "status"))
                     and query.get("template_type", "email") == "email"]
        base = self.server.url
        return self._json(200, {"notifications": found,
                                "links": {"current": f"{base}/v2/notifications"}})

    def _authorised(self) -> bool:
        """Check the bearer token as Notify does; answer 403 with its message if it fails."""
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            self._error(401, "AuthError", "Unauthorized: authentication token must be provided")
            return False
        try:
            claims = jwt.decode(token, SECRET, algorithms=["HS256"],
                                options={"verify_iat": False})
        except jwt.InvalidTokenError:
            self._error(403, "AuthError", "Invalid token: signature, api token not found")
            return False
        if claims.get("iss") != SERVICE_ID:
            self._error(403, "AuthError", "Invalid token: service not found")
            return False
        if abs(time.time() - int(claims.get("iat", 0))) > 30:
            self._error(403, "AuthError",
                        "Error: Your system clock must be accurate to within 30 seconds")
            return False
        return True

    def _send_email(self, raw: bytes) -> None:
        try:
            request = json.loads(raw)
        except ValueError:
            return self._error(400, "BadRequestError", "Invalid JSON supplied in POST data")
        problem = _invalid(request, self.server.state.templates)
        if problem:
            return self._error(400, "ValidationError", problem)
        answer = self._accepted(request)
        state = self.server.state
        with state.lock:
            state.notifications.append({**request, "answer": answer})
            hang_up = state.hang_up_after_accepting > 0
            state.hang_up_after_accepting -= hang_up
        if hang_up:  # accepted, but the client never hears so
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        if state.answer_delay:  # accepted, but the answer comes after the client stopped waiting
            time.sleep(state.answer_delay)
        return self._json(201, answer)

    def _accepted(self, request: dict) -> dict:
        template = self.server.state.templates[request["template_id"]]
        values = request.get("personalisation", {})
        fill = lambda text: _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)  # noqa: E731
        notification_id = str(uuid.uuid4())
        base = self.server.url
        return {
            "id": notification_id, "reference": request.get("reference"),
            "content": {"subject": fill(template.subject), "body": fill(template.body),
                        "from_email": "partnermatch@notifications.service.gov.uk",
                        "one_click_unsubscribe_url": request.get("one_click_unsubscribe_url")},
            "uri": f"{base}/v2/notifications/{notification_id}",
            "template": {"id": request["template_id"], "version": template.version,
                         "uri": f"{base}/v2/template/{request['template_id']}"},
            "scheduled_for": None, "status": "created", "type": "email",
            "email_address": request["email_address"],
        }

    def _error(self, status: int, error: str, message: str) -> None:
        self._json(status, {"status_code": status, "errors": [{"error": error,
                                                                "message": message}]})

    def _json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _invalid(request: object, templates: dict[str, Template]) -> str | None:
    """Return Notify's validation message for a bad POST body, or None."""
    if not isinstance(request, dict):
        return "POST data must be a JSON object"
    for name in ("email_address", "template_id"):
        if not isinstance(request.get(name), str):
            return f"{name} is a required property"
    if not _EMAIL.fullmatch(request["email_address"]):
        return "email_address Not a valid email address"
    template = templates.get(request["template_id"])
    if template is None:
        return "Template not found"
    given = request.get("personalisation") or {}
    missing = [p for p in _PLACEHOLDER.findall(template.subject + template.body) if p not in given]
    if missing:
        return f"Missing personalisation: {', '.join(missing)}"
    unsubscribe = request.get("one_click_unsubscribe_url")
    if unsubscribe is not None and not str(unsubscribe).startswith(("https://", "http://")):
        return "one_click_unsubscribe_url is not a valid https url"
    return None


class NotifyServer(ThreadingHTTPServer):
    """The fake Notify on a free loopback port, serving from a thread."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), NotifyHandler)
        self.state = NotifyState()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
