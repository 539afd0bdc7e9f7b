# syntax=docker/dockerfile:1
# Production image: nginx in front of gunicorn serving config.wsgi (config/serve.py), as a
# non-root user.
#   docker build -t oms-customers .
#   docker run --rm -e DATABASE_URL=... -e SECRET_KEY=... -e ALLOWED_HOSTS=... oms-customers \
#     python manage.py migrate
#   docker run -p 8000:8000 -e DATABASE_URL=... -e SECRET_KEY=... -e ALLOWED_HOSTS=... oms-customers

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The runtime lock, hashes checked: the versions CI tested (docs/dependencies.md). A layer of
# its own, rebuilt only when the lock changes.
COPY requirements/base.txt ./requirements/
RUN python -m pip install --require-hashes -r requirements/base.txt
COPY pyproject.toml README.md ./
COPY config ./config
COPY oms ./oms
COPY channels ./channels
COPY customers ./customers
COPY tokens ./tokens
COPY deleted_items ./deleted_items
COPY exports ./exports
# The project alone, built by the locked setuptools: nothing resolved or fetched here.
RUN python -m pip install --no-deps --no-build-isolation .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    STATIC_ROOT=/app/staticfiles \
    EXPORT_JOBS_DIR=/app/export-jobs \
    SERVE_BIND=0.0.0.0:8000
# nginx reads requests whole and buffers responses, so slow clients hold no gunicorn worker.
RUN apt-get update && apt-get install -y --no-install-recommends nginx-core \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system oms && useradd --system --gid oms --home-dir /app --no-create-home oms
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY manage.py ./
# collectstatic needs settings, not secrets: a throwaway key for this step only.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && mkdir -p /app/export-jobs && chown -R oms:oms /app
USER oms
EXPOSE 8000
# config/serve.py: nginx on SERVE_BIND, gunicorn (config/gunicorn.py: workers from the CPU
# count or WEB_CONCURRENCY, timeouts, logs) behind it.
CMD ["python", "-m", "config.serve"]
