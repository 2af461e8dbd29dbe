"""Settings: one module, every value from the environment.

Safe defaults exist only for local development (``DJANGO_DEBUG=true``); a production deployment
must set ``DJANGO_SECRET_KEY`` and ``DJANGO_ALLOWED_HOSTS``, and a bad value stops start-up with a
message that names the variable. ``docs/configuration.md`` lists every variable.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TRACKER_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", default=False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random string "
            "(or set DJANGO_DEBUG=true for local development only)."
        )
    SECRET_KEY = "local-development-only-not-a-secret"  # noqa: S105 - used only with DEBUG on

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "knox",
    "simple_history",
    "django_countries",
    "tracker",
    "proposals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records the request's user on every history row written during the request.
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'tracker.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; the busy timeout makes the
    # worker and beat wait for the lock instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("DATABASE_TEST_NAME") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CACHES: dict[str, Any] = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # Without Redis, a database table is the one cache every process (web, worker, beat)
    # shares, so locks and per-host politeness still hold across them.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "tracker_cache",
        }
    }

# --- Celery -------------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Must exceed the longest task time limit, or Redis hands a running task to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {"visibility_timeout": 3600}
else:
    # kombu's filesystem transport: a broker that needs no server, for one machine.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # The worker looks for messages this often (in seconds) whenever its prefetch is full;
        # kombu's default of 1 s would cap a local worker at its concurrency per second.
        "polling_interval": 0.1,
    }
    for folder in ("queue", "processed"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django support closes the database connection around every task unless told to
# reuse it; reconnecting (a new PostgreSQL backend per task) then costs more than most tasks.
# Connections are reused and recycled every this many tasks; config/celery.py also drops broken
# or expired ones (DATABASE_CONN_MAX_AGE) before each task, as Django does per request.
CELERY_DB_REUSE_MAX = 1000
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("TRACKER_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = env_int("TRACKER_TASK_TIME_LIMIT", 180)
CELERY_TIMEZONE = "UTC"
# A fresh child now and then returns what lxml and trafilatura's caches hold on to.
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("TRACKER_WORKER_MAX_TASKS_PER_CHILD", 1000)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
TRACKER_DISPATCH_EVERY = env_int("TRACKER_DISPATCH_EVERY", 60)
if TRACKER_DISPATCH_EVERY < 1:
    raise ImproperlyConfigured("TRACKER_DISPATCH_EVERY must be at least 1 (seconds).")
CELERY_BEAT_SCHEDULE: dict[str, Any] = {
    "recompute-measure-status-daily": {
        "task": "proposals.tasks.recompute_all_statuses",
        "schedule": 24 * 60 * 60,
    },
    "dispatch-due-sources": {
        "task": "tracker.tasks.dispatch_due_sources",
        "schedule": TRACKER_DISPATCH_EVERY,
        # Ticks queued while no worker ran are stale by the next one: drop, don't pile up.
        "options": {"expires": TRACKER_DISPATCH_EVERY},
    },
}

# --- Source refresh -------------------------------------------------------------------------
TRACKER_USER_AGENT = os.environ.get(
    "TRACKER_USER_AGENT",
    "ArmsControlTracker/0.1 (+https://github.com/arms-control-tracker; source checker)",
)
# CIDRs the fetcher may reach despite being non-public. Empty in production; the tests and the
# local demo use it for loopback servers only.
TRACKER_FETCH_ALLOWED_NETWORKS = env_list("TRACKER_FETCH_ALLOWED_NETWORKS", [])


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if not value >= minimum:  # Also refuses NaN.
        raise ImproperlyConfigured(f"{name} must be at least {minimum:g}, not {raw!r}")
    return value


# Ports sources may use ("any" for every port): a public address can still run an internal
# service on an odd port, and real sources live on 80 and 443.
_ports = env_list("TRACKER_FETCH_ALLOWED_PORTS", ["80", "443"])
if _ports == ["any"]:
    TRACKER_FETCH_ALLOWED_PORTS: frozenset[int] | None = None
elif all(port.isdigit() and 0 < int(port) < 65536 for port in _ports) and _ports:
    TRACKER_FETCH_ALLOWED_PORTS = frozenset(int(port) for port in _ports)
else:
    raise ImproperlyConfigured(
        f"TRACKER_FETCH_ALLOWED_PORTS must be port numbers or 'any', not {','.join(_ports)!r}"
    )
# One fetch (redirects and robots.txt included) in wall-clock seconds, and its body cap.
TRACKER_FETCH_DEADLINE = env_float("TRACKER_FETCH_DEADLINE", 30.0, minimum=1)
TRACKER_FETCH_MAX_BYTES = env_int("TRACKER_FETCH_MAX_BYTES", 5 * 1024 * 1024)
if TRACKER_FETCH_MAX_BYTES < 1024:
    raise ImproperlyConfigured("TRACKER_FETCH_MAX_BYTES must be at least 1024.")
# A PEM file of the certificate authorities HTTPS sources are verified against, in place of the
# public ones: for outbound traffic through an inspecting proxy with its own authority.
TRACKER_FETCH_CA_BUNDLE = os.environ.get("TRACKER_FETCH_CA_BUNDLE", "")
if TRACKER_FETCH_CA_BUNDLE and not Path(TRACKER_FETCH_CA_BUNDLE).is_file():
    raise ImproperlyConfigured(
        f"TRACKER_FETCH_CA_BUNDLE must name a PEM file, not {TRACKER_FETCH_CA_BUNDLE!r}"
    )
# How often a healthy source is checked; failures back off from one hour, doubling up to a week.
TRACKER_CHECK_INTERVAL_HOURS = env_float("TRACKER_CHECK_INTERVAL_HOURS", 24.0, minimum=1)
# Fewest seconds between two fetches from one host, across all workers (robots.txt's
# Crawl-delay, when larger, wins).
TRACKER_HOST_MIN_INTERVAL = env_float("TRACKER_HOST_MIN_INTERVAL", 1.0)
# Consecutive 404/410 answers before a source counts as broken rather than unreachable.
TRACKER_BROKEN_AFTER = env_int("TRACKER_BROKEN_AFTER", 3)
if TRACKER_BROKEN_AFTER < 1:
    raise ImproperlyConfigured("TRACKER_BROKEN_AFTER must be at least 1.")
# Seconds a dispatched source stays claimed before it counts as due again (its task lost).
# Shorter than the soonest next check (one hour, the first backoff), so a source checked since
# its dispatch is told apart from one still waiting for its task.
TRACKER_REFRESH_LEASE = env_int("TRACKER_REFRESH_LEASE", 600)
if not 60 <= TRACKER_REFRESH_LEASE < min(3600, TRACKER_CHECK_INTERVAL_HOURS * 3600 / 4):
    raise ImproperlyConfigured(
        "TRACKER_REFRESH_LEASE must be at least 60 seconds and shorter than an hour and than "
        "a quarter of TRACKER_CHECK_INTERVAL_HOURS."
    )
# Sources claimed per transaction, and at most per beat tick.
TRACKER_DISPATCH_BATCH = env_int("TRACKER_DISPATCH_BATCH", 500)
TRACKER_DISPATCH_MAX_PER_TICK = env_int("TRACKER_DISPATCH_MAX_PER_TICK", 10_000)
if TRACKER_DISPATCH_BATCH < 1 or TRACKER_DISPATCH_MAX_PER_TICK < 1:
    raise ImproperlyConfigured(
        "TRACKER_DISPATCH_BATCH and TRACKER_DISPATCH_MAX_PER_TICK must be at least 1."
    )
# Hosts one refresh task checks at once, each host's sources in turn in a thread of the worker
# process (a fetch mostly waits on the network or for the host's turn); also the size of that
# thread pool.
TRACKER_REFRESH_BATCH = env_int("TRACKER_REFRESH_BATCH", 20)
if not 1 <= TRACKER_REFRESH_BATCH <= 200:
    raise ImproperlyConfigured("TRACKER_REFRESH_BATCH must be between 1 and 200.")

# --- API --------------------------------------------------------------------------------------


def env_rate(name: str, default: str) -> str | None:
    """A DRF throttle rate such as ``120/minute``; ``off`` disables the throttle."""
    raw = os.environ.get(name) or default
    if raw.strip().lower() == "off":
        return None
    number, _, period = raw.partition("/")
    if not number.strip().isdigit() or period.strip()[:1] not in {"s", "m", "h", "d"}:
        raise ImproperlyConfigured(f"{name} must look like 120/minute (or off), not {raw!r}")
    return raw.strip()


# Throttles write a request history on every request: on the database cache that would cost
# queries per anonymous request, so they get their own cache — Redis when configured (shared by
# every process), else process memory (the limit then applies per web process).
CACHES["throttle"] = (
    CACHES["default"]
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "api-throttle"}
)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "proposals.api.schema.AutoSchema",
    # Tokens for scripts (knox: stored hashed, expiring); the session for the browsable API.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.DjangoModelPermissionsOrAnonReadOnly"
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "proposals.api.pagination.TrackerPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": [
        "drf_orjson_renderer.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # Request bodies are JSON only: no endpoint takes a file, and one body format keeps the
    # schema (and the clients generated from it) honest. The admin site does not use these.
    "DEFAULT_PARSER_CLASSES": ["drf_orjson_renderer.parsers.ORJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "proposals.api.renderers.ContentNegotiation",
    "DEFAULT_THROTTLE_CLASSES": ["proposals.api.throttling.AnonymousThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("TRACKER_API_ANON_RATE", "300/minute"),
        "login": env_rate("TRACKER_API_LOGIN_RATE", "10/minute"),
    },
    "EXCEPTION_HANDLER": "proposals.api.views.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env_int("TRACKER_API_TOKEN_TTL_HOURS", 10)),
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Arms-control proposal tracker API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "kind"; name each vocabulary after its model.
    "ENUM_NAME_OVERRIDES": {
        "ActorKindEnum": "proposals.models.Actor.Kind",
        "EventKindEnum": "proposals.models.Event.Kind",
        "SourceKindEnum": "tracker.models.Source.Kind",
        "StanceEnum": "proposals.models.Position.Stance",
        "MeasureStatusEnum": "proposals.models.Measure.Status",
        "CertaintyEnum": "proposals.models.Certainty",
        "ParticipationEnum": [
            ("signatory", "signatory"),
            ("party", "party"),
            ("suspended", "suspended"),
            ("withdrawn", "withdrawn"),
            ("ended", "ended"),
        ],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "proposals.api.docs.describe_api",
    ],
}

# --- Security (production values; `manage.py check --deploy` is clean with them) -------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # Joining the browsers' preload list is a one-way decision for the domain's owner,
        # not a default; leaving it off is deliberate, so its warning is silenced.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    if env_bool("DJANGO_BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}
