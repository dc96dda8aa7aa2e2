"""A small HTTP load generator for when wrk is not installed: keep-alive connections on threads."""

from __future__ import annotations

import http.client
import json
import threading
import time
from urllib.parse import urlsplit


def python_load(url: str, body: dict, seconds: float, connections: int) -> tuple[float, float, int]:
    """POST `body` from `connections` threads for `seconds`; return req/s, p99 ms, failures."""
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    latencies: list[float] = []
    failures = [0]
    deadline = time.perf_counter() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                connection.request("POST", parts.path, payload,
                                   {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                ok = 200 <= response.status < 400
            except (OSError, http.client.HTTPException):
                connection.close()
                ok = False
            latencies.append(time.perf_counter() - start)
            failures[0] += not ok
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(connections)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000 if ordered else 0.0
    return len(latencies) / elapsed, p99, failures[0]
