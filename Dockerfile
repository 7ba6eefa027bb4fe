# The production image: one image for web (gunicorn), the Celery worker and Celery beat.
# docker-compose.yml runs it against PostgreSQL 15 and Redis 7; every setting comes from the
# environment (README.md "Settings").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KAMEN_VAR_DIR=/app/var \
    MEDIA_ROOT=/data/media \
    PORT=8000

# A user without privileges runs everything; only var/ (static files), locale/ (compiled
# catalogues) and the uploaded-files volume are writable by it.
RUN groupadd --system --gid 10001 kamen \
    && useradd --system --uid 10001 --gid kamen --create-home --home-dir /home/kamen kamen

# poppler-utils: pdftoppm draws the review copy of a party's PDF evidence (its pages as
# images, disputes/pdf_review.py); without it staff only get the warning and the download.
# postgresql-client: pg_dump/pg_restore for `manage.py backup` / `restore` (docs/backup.md).
RUN apt-get update \
    && apt-get install -y --no-install-recommends poppler-utils postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. Every pin ships a manylinux
# wheel (psycopg2-binary, cryptography, pillow): no compiler in the image.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are collected into the image (whitenoise serves them) and the translations
# compiled (the worker and beat need them too; web compiles again on start). Neither reads
# the database nor any secret, and the build has none: collectstatic runs only the static
# files' checks and compile_translations skips them. The secret check runs when the container
# starts (migrate, gunicorn, Celery), with the real secrets (README "Development and
# production"); KAMEN_ENV stays unset, i.e. production.
RUN mkdir -p /app/var /app/locale /data/media \
    && python manage.py collectstatic --noinput --verbosity 0 \
    && python manage.py compile_translations --skip-checks \
    && chown -R kamen:kamen /app/var /app/locale /data/media

USER kamen

EXPOSE 8000
VOLUME ["/data/media"]

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"

# Workers: $WEB_CONCURRENCY (gunicorn reads it; docker-compose.yml sets it).
CMD ["sh", "-c", "exec gunicorn kamen_complaints.wsgi --bind 0.0.0.0:${PORT} --no-control-socket --access-logfile - --graceful-timeout 25"]
