# syntax=docker/dockerfile:1
# The one mp-webhooks image: receiver, worker, scheduler, reconciler, sandbox and the
# operator CLI. The entrypoint is `mp-webhooks`; the arguments choose the component (the
# chart passes them). docs/image.md: build arguments, the base digest, the lock files.
#   docker build -t mp-webhooks:0.1.0 .
# Targets: `runtime` (default, production) and `dev` (sources under /app, writable by the
# app user, for `skaffold dev` file sync).

# Python 3.11 on Debian bookworm, pinned by the digest of the multi-platform index
# (docs/image.md says how to refresh it). Any image with Debian bookworm's layout and a
# `python3` 3.11 with venv/ensurepip works: the tests build on a Debian stand-in.
ARG BASE_IMAGE=docker.io/library/python:3.11.16-slim-bookworm@sha256:0bee7276f83efd4a1ee05bbbf4281d95ed28e079220a9457f25a93e3f1e3c31b

# ---- build: pip, the build backend and the wheels; nothing of it ships but /opt/venv ---
# checkov:skip=CKV_DOCKER_7:checkov does not resolve ARG defaults; BASE_IMAGE is pinned by digest above
FROM ${BASE_IMAGE} AS build
# A mirror of PyPI (e.g. a proxy inside your network); the lock's hashes still decide.
ARG PIP_INDEX_URL=https://pypi.org/simple
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
# Two venvs: /opt/build-tools has pip and setuptools, /opt/venv (the only thing the
# runtime stage copies) gets the wheels and never a pip of its own.
RUN python3 -m venv /opt/build-tools \
    && python3 -m venv --without-pip /opt/venv
WORKDIR /src
# Dependencies first, from the lock files alone: a source change reuses this layer.
# Every download is checked against the lock's sha256 (--require-hashes). Sources PyPI
# has no wheel for are built with the locked setuptools (--no-build-isolation: an
# isolated build would fetch its backend unchecked). A build behind a TLS-intercepting
# proxy passes that proxy's CA as the secret `pip-ca`; it exists only during this step.
COPY requirements-build.lock requirements.lock ./
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && /opt/build-tools/bin/pip install --require-hashes --no-deps -r requirements-build.lock \
    && /opt/build-tools/bin/pip wheel --require-hashes --no-deps --no-build-isolation \
        -r requirements.lock --wheel-dir /wheels \
    && /opt/build-tools/bin/pip --python /opt/venv/bin/python install --no-deps --no-index /wheels/*.whl
# Then the project itself, without dependencies (all are installed above). README.md is
# the package's long description; the wildcard lets a tree without it build.
COPY pyproject.toml README.md* ./
COPY services ./services
RUN /opt/build-tools/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /dist . \
    && /opt/build-tools/bin/pip --python /opt/venv/bin/python install --no-deps --no-index /dist/*.whl \
    && python3 -m compileall -q /opt/venv/lib

# ---- base: the interpreter, the venv, an unprivileged user -------------------------------
FROM ${BASE_IMAGE} AS base
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE_URL=""
# The project declares no license yet (pyproject.toml); SPDX's word for that.
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.title="mp-webhooks" \
      org.opencontainers.image.description="Mercado Pago webhooks: receiver, worker, scheduler, reconciler and operator CLI" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="${LICENSES}"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONFAULTHANDLER=1
# The base's own pip (python:*-slim has one) goes: nothing in the image installs packages.
# A fixed numeric uid/gid (10001): Kubernetes' runAsNonRoot can verify it, and it is
# above the host's system range.
RUN if python3 -m pip --version >/dev/null 2>&1; then \
        python3 -m pip uninstall --yes --quiet pip setuptools wheel; \
    fi \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
# Nothing is written outside /tmp (an emptyDir in the chart): bytecode is compiled above.
WORKDIR /tmp
# receiver (8000), worker and scheduler METRICS_PORT (9100), sandbox (8010).
EXPOSE 8000 9100 8010
# Exec form: mp-webhooks is PID 1 and receives SIGTERM itself.
ENTRYPOINT ["mp-webhooks"]
CMD ["--help"]
# For `docker run`: whichever of the receiver's port and METRICS_PORT this component
# serves answers /healthz. Kubernetes ignores it; the chart's probes decide there.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import os, sys, urllib.request as u\nfor p in ('8000', os.environ.get('METRICS_PORT', '9100')):\n    try:\n        sys.exit(u.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=2).status != 200)\n    except OSError:\n        pass\nsys.exit(1)"]

# ---- dev: sources importable from /app (ahead of the installed copy) and writable by the
# app user, so skaffold's file sync can replace them and watchfiles restarts the process.
FROM base AS dev
COPY --chown=10001:10001 services /app/services
ENV PYTHONPATH=/app
USER 10001:10001

# ---- runtime (default target): nothing but the interpreter, the venv and the user ------
FROM base AS runtime
USER 10001:10001
