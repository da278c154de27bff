FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY bot ./bot
COPY storage ./storage
# constraints.txt pins every dependency (bash scripts/lock regenerates it); pyproject.toml keeps ranges.
RUN pip install -c constraints.txt . && useradd --create-home --uid 10001 mediabot && mkdir -p /app/data && chown mediabot /app/data
USER mediabot
VOLUME ["/app/data"]
# /healthz answers 200 while the database answers and updates are being taken (bot.observability.server).
ENV METRICS_LISTEN=0.0.0.0:9100
EXPOSE 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9100/healthz', timeout=4)"]
# SIGTERM lets the bot finish in-flight work and close the database: give it longer than SHUTDOWN_GRACE_SECONDS
# (20 s) to stop, e.g. `docker stop -t 30` or `stop_grace_period: 30s` in compose (Docker's default kills after 10 s).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
