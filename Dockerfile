# The service's image: web (gunicorn), worker and beat run from it with different commands;
# compose.yaml shows how. Build: docker build -t arms-control-tracker .

# --- build: the dependencies into a virtual environment, nothing else ------------------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY common ./common
COPY config ./config
COPY proposals ./proposals
COPY tracker ./tracker
# Installs the runtime dependencies (not the dev extras); the project itself runs from /app.
RUN /venv/bin/pip install . && /venv/bin/pip uninstall --yes arms-control-tracker

# --- runtime: the virtual environment and the source, run by an unprivileged user -----------
FROM python:3.11-slim-bookworm
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_STATIC_ROOT=/app/static \
    TRACKER_VAR_DIR=/var/lib/tracker
RUN useradd --system --uid 10001 --home-dir /var/lib/tracker --create-home tracker
COPY --from=build /venv /venv
WORKDIR /app
COPY manage.py ./
COPY common ./common
COPY config ./config
COPY proposals ./proposals
COPY tracker ./tracker
COPY templates ./templates
# Static files are collected at build time and served by the web process (WhiteNoise).
RUN DJANGO_SECRET_KEY=only-for-collectstatic python manage.py collectstatic --no-input \
    && python -m compileall -q common config proposals tracker
USER tracker
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live/', timeout=4)"
CMD ["gunicorn", "config.wsgi", "-c", "config/gunicorn.py"]
