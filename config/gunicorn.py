"""gunicorn settings for the API (used by `partnermatch api` and docker-compose)."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# Behind a buffering proxy (nginx in docker-compose) slow clients never hold a worker.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No access log: paths can hold signed links. The app logs each request by its route pattern.
accesslog = None
max_requests = 2000
# Import the app once in the master and fork the workers from it: a worker (first or recycled by
# max_requests) starts in milliseconds instead of re-importing scikit-learn and rebuilding the
# app for seconds of CPU while requests queue. Connections are never shared across the fork:
# the API's engine drops its pool in each child (services/api/runtime.py), redis-py and the
# publisher notice the new process id.
preload_app = True
# gunicorn's control socket would be written under the user's home directory; nothing uses it.
control_socket_disable = True


def child_exit(_server, worker) -> None:
    """Let prometheus-client's multiprocess mode forget a gunicorn worker that exited."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
max_requests_jitter = 200
