# The bot's image: dependencies from the lock file first (a change to the source does not
# reinstall them), then the source; runs as a non-root user; health-checked on /healthz.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 10001 bot

# Every dependency pinned with its hashes (pip-compile; see docs/deploy.md to update it).
COPY requirements.lock ./
RUN pip install --no-deps --require-hashes -r requirements.lock

COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
COPY content ./content
COPY db ./db
RUN pip install --no-deps --no-build-isolation . \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data

USER 10001:10001
# The SQLite file lives in the volume unless DATABASE_URL points at PostgreSQL. Health and
# metrics listen on 8080, the webhook (when WEBHOOK_URL is set) on 8443.
ENV DATABASE_URL=sqlite+aiosqlite:////app/data/bot.db \
    HEALTH_HOST=0.0.0.0 \
    HEALTH_PORT=8080 \
    WEBHOOK_LISTEN=0.0.0.0 \
    WEBHOOK_PORT=8443
VOLUME ["/app/data"]
EXPOSE 8080 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot", "healthcheck"]
# SIGTERM (docker stop) lets the updates in hand finish before the process exits.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
