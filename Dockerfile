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
# SIGTERM lets the bot finish in-flight work and close the database; give it time to do so.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot"]
