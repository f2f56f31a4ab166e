FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 10001 bot

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY content ./content
COPY db ./db
RUN pip install . && mkdir -p /app/data && chown bot:bot /app/data

USER bot
# The SQLite file lives here unless DATABASE_URL points elsewhere.
VOLUME ["/app/data"]
ENV DATABASE_URL=sqlite+aiosqlite:////app/data/bot.db

CMD ["python", "-m", "bot", "run"]
