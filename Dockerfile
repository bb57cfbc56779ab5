# One stage, non-root: install the project, run migrations, serve with uvicorn.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MATCHMAKER_DATABASE_URL=sqlite:////data/matchmaker.db \
    MATCHMAKER_CACHE_DIR=/data/cache

RUN useradd --create-home --uid 10001 matchmaker && mkdir -p /data && chown matchmaker /data
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY matchmaker ./matchmaker
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir -e . && python -c "import matchmaker.refdata.places as p; p.all_comuni()"

USER matchmaker
VOLUME /data
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["sh", "-c", "matchmaker db upgrade && exec matchmaker serve --host 0.0.0.0 --port 8000 --workers 2"]
