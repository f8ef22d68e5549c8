# syntax=docker/dockerfile:1
# Multi-stage: wheels are built with the compiler in the first stage; the final image has none.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential=12.* \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --upgrade pip==25.* \
    && /opt/venv/bin/pip install -c constraints.txt .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/opt/venv/bin:$PATH" \
    APP_ENV=production \
    APP_VAR_DIR=/app/var
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --chown=app:app alembic.ini ./
COPY --chown=app:app alembic ./alembic
COPY --chown=app:app app ./app
RUN mkdir -p /app/var && chown app:app /app/var
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
# The API: uvicorn in WEB_CONCURRENCY processes (unset: one per core the container may use; README:
# Performance), on HOST:PORT, trusting X-Forwarded-* from FORWARDED_ALLOW_IPS (the proxy in front).
# The worker runs the same image with: python -m app worker
ENV HOST=0.0.0.0 \
    PORT=8000 \
    FORWARDED_ALLOW_IPS="*"
CMD ["python", "-m", "app", "serve"]
