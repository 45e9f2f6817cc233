# syntax=docker/dockerfile:1
# Build: docker build -t partner-registry .
# Run:   docker run -p 8000:8000 -e REGISTRY_SECRET_KEY=... \
#          -e REGISTRY_DATABASE_URL=postgresql://user:pass@db/registry partner-registry

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN python -m venv /opt/venv
COPY pyproject.toml requirements.lock ./
COPY app ./app
COPY seed ./seed
RUN /opt/venv/bin/pip install -c requirements.lock .

FROM python:3.11-slim
# PYTHONPATH puts the copied source (beside alembic.ini and migrations/) ahead of site-packages.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    REGISTRY_ENV=production \
    REGISTRY_LOG_JSON=true \
    REGISTRY_STORAGE_ROOT=/data/storage
RUN useradd --system --uid 10001 --home-dir /app registry \
    && mkdir -p /data/storage && chown -R registry /data
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
COPY seed ./seed
USER registry
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["sh", "-c", "registry migrate && exec registry serve --host 0.0.0.0 --port 8000 --workers ${WORKERS:-2}"]
