# The newsbot image: `docker compose up` builds it (see docker-compose.yml and the README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY content ./content
COPY db ./db
RUN pip install . && rm -rf /src

COPY docker/entrypoint.sh /usr/local/bin/newsbot-entrypoint
RUN chmod 0755 /usr/local/bin/newsbot-entrypoint \
    && useradd --system --uid 10001 --home-dir /data --create-home newsbot

USER newsbot
WORKDIR /data
ENV NEWSBOT_LOG_FORMAT=json \
    NEWSBOT_LISTEN=0.0.0.0:8443 \
    NEWSBOT_METRICS_LISTEN=0.0.0.0:9090

# 8443: webhook, /healthz and /metrics in webhook mode; 9090: /healthz and /metrics when polling.
EXPOSE 8443 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["newsbot", "healthcheck"]
ENTRYPOINT ["newsbot-entrypoint"]
CMD ["newsbot", "run"]
