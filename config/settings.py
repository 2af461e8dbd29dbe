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
from urllib.parse import urlsplit

import csp.constants as csp
import dj_database_url
import structlog
from celery.schedules import crontab
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
    raise ImproperlyConfigured(
        f"{name} must be true or false, not {raw!r} (e.g. {name}={str(default).lower()})"
    )


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a whole number, not {raw!r} (e.g. {name}={default})"
        ) from None


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
    "drf_spectacular_sidecar",
    "csp",
    "knox",
    "axes",
    "simple_history",
    "django_countries",
    "django_structlog",
    "corsheaders",
    "django_prometheus",
    "tracker",
    "proposals",
]

MIDDLEWARE = [
    # Counts every request by view, method and status, with its latency (see config/metrics.py).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Frees an API response's page as soon as the server has sent it (see config/middleware.py).
    "config.middleware.ReleaseRenderedData",
    # A request id on every log line of the request and of the tasks it queues (see Logs),
    # first so that even a redirect or an error page carries one.
    "django_structlog.middlewares.RequestMiddleware",
    "config.logs.RequestIdHeaderMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the path, the query or a cookie: PostgreSQL cannot hold a NUL.
    "config.middleware.RejectNulCharacters",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records the request's user on every history row written during the request.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Sees the final status, after AxesMiddleware (inside it) has answered a lockout.
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Answers a locked-out login form with 429 (see proposals/api/throttling.py); last, so it
    # sees what the login view did.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Project-wide overrides of third-party templates (the browsable API's page).
        "DIRS": [BASE_DIR / "templates"],
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


def env_database(name: str, default: str) -> dict[str, Any]:
    """A database URL for PostgreSQL or SQLite, as Django's ``DATABASES`` entry."""
    raw = os.environ.get(name) or default
    url = urlsplit(raw)
    shown = (
        url._replace(netloc=f"{url.username}:***@{url.hostname}").geturl() if url.password else raw
    )
    refusal = ImproperlyConfigured(
        f"{name} must be a PostgreSQL or SQLite URL, not {shown!r} "
        f"(e.g. {name}=postgres://tracker:secret@localhost:5432/tracker)"
    )
    try:
        parsed = dj_database_url.parse(
            raw, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    except (ValueError, KeyError):
        raise refusal from None
    if parsed["ENGINE"] not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
        raise refusal
    if not parsed.get("NAME"):
        raise refusal
    return dict(parsed)


DATABASES = {
    "default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'tracker.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; the busy timeout makes the
    # worker and beat wait for the lock instead of failing at once. Connections are kept as on
    # PostgreSQL (DATABASE_CONN_MAX_AGE): opening one costs about a millisecond (the pragmas
    # and Django's SQL functions), as much as answering a list page from the page cache.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("DATABASE_TEST_NAME") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

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


def env_redis(name: str) -> str:
    """A Redis URL (``redis://`` or ``rediss://``), or empty for none. (A Unix socket is not
    offered: the Celery broker and the cache spell it differently.)"""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return ""
    url = urlsplit(raw)
    try:
        url.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        url = url._replace(scheme="")
    if url.scheme in {"redis", "rediss"} and url.hostname:
        return raw
    raise ImproperlyConfigured(
        f"{name} must be a Redis URL, not {raw!r} (e.g. {name}=redis://localhost:6379/0)"
    )


REDIS_URL = env_redis("REDIS_URL")

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
    if urlsplit(REDIS_URL).scheme == "redis":
        # kombu's Redis transport, kept usable through a Redis outage (see config/broker.py).
        CELERY_BROKER_TRANSPORT = "config.broker:Transport"
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
    # Just after midnight UTC, the day "today" changes for stored statuses and participations,
    # so an event dated today takes effect today (every 24 h from beat's start could lag a day).
    "recompute-measure-status-daily": {
        "task": "proposals.tasks.recompute_all_statuses",
        "schedule": crontab(minute=5, hour=0),
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
        raise ImproperlyConfigured(
            f"{name} must be a number, not {raw!r} (e.g. {name}={default:g})"
        ) from None
    if not value >= minimum:  # Also refuses NaN.
        raise ImproperlyConfigured(
            f"{name} must be at least {minimum:g}, not {raw!r} (e.g. {name}={default:g})"
        )
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
        f"TRACKER_FETCH_ALLOWED_PORTS must be port numbers or 'any', not {','.join(_ports)!r} "
        "(e.g. TRACKER_FETCH_ALLOWED_PORTS=80,443)"
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
if TRACKER_REFRESH_LEASE <= CELERY_TASK_TIME_LIMIT:
    # A source's lock lives as long as a task may; it must be gone when the source is due again.
    raise ImproperlyConfigured(
        f"TRACKER_REFRESH_LEASE must be longer than TRACKER_TASK_TIME_LIMIT "
        f"({CELERY_TASK_TIME_LIMIT} s), not {str(TRACKER_REFRESH_LEASE)!r} "
        "(e.g. TRACKER_REFRESH_LEASE=600)"
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

# Addresses that throttles and login lockouts count against: REMOTE_ADDR, or behind this many
# reverse proxies (each appending to X-Forwarded-For), the address the outermost one saw. Never
# more than the proxies you run: a client can write X-Forwarded-For entries of its own.
TRACKER_TRUSTED_PROXIES = env_int("TRACKER_TRUSTED_PROXIES", 0)
if TRACKER_TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured("TRACKER_TRUSTED_PROXIES must be 0 or more.")

# Rendered list pages each web process keeps in memory under their ETag, answered again without
# being rebuilt until a write changes the data (proposals/api/listcache.py); 0 turns it off.
TRACKER_API_LIST_CACHE_BYTES = env_int("TRACKER_API_LIST_CACHE_MB", 16) * 1024 * 1024
if TRACKER_API_LIST_CACHE_BYTES < 0:
    raise ImproperlyConfigured(
        "TRACKER_API_LIST_CACHE_MB must be 0 (off) or more megabytes, not "
        f"{os.environ['TRACKER_API_LIST_CACHE_MB']!r} (e.g. TRACKER_API_LIST_CACHE_MB=16)"
    )

# Numbered list pages count the matching rows no further than this (proposals/api/pagination.py):
# the count then costs at most this many rows, and a page says "at least" instead beyond it.
TRACKER_API_EXACT_COUNT_LIMIT = env_int("TRACKER_API_EXACT_COUNT_LIMIT", 1000)
if TRACKER_API_EXACT_COUNT_LIMIT < 1:
    raise ImproperlyConfigured(
        "TRACKER_API_EXACT_COUNT_LIMIT must be 1 or more rows, not "
        f"{os.environ['TRACKER_API_EXACT_COUNT_LIMIT']!r} (e.g. TRACKER_API_EXACT_COUNT_LIMIT=1000)"
    )
# The most entries each list of an actor's page (/actors/{code}/) holds: its positions, stances
# and participations; the rest is read in pages from the lists its `more` links name.
TRACKER_API_ACTOR_LIST_LIMIT = env_int("TRACKER_API_ACTOR_LIST_LIMIT", 100)
if TRACKER_API_ACTOR_LIST_LIMIT < 1:
    raise ImproperlyConfigured(
        "TRACKER_API_ACTOR_LIST_LIMIT must be 1 or more entries, not "
        f"{os.environ['TRACKER_API_ACTOR_LIST_LIMIT']!r} (e.g. TRACKER_API_ACTOR_LIST_LIMIT=100)"
    )

# A JSON request body is read up to this many bytes, a longer one is a 413 (the dataset import
# has its own, larger limit); Django's forms (the admin) are held to it too.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("TRACKER_API_MAX_BODY_BYTES", 2_621_440)
if DATA_UPLOAD_MAX_MEMORY_SIZE < 1024:
    raise ImproperlyConfigured("TRACKER_API_MAX_BODY_BYTES must be at least 1024.")

# Password logins (the API's and the admin's): failures are counted in the database (not the
# cache, so the count holds while Redis is down), per client address and per account; either
# reaching the limit locks both out until the cool-off has passed since the last failure.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("TRACKER_LOGIN_FAILURE_LIMIT", 5)
_lockout_minutes = env_int("TRACKER_LOGIN_LOCKOUT_MINUTES", 15)
AXES_COOLOFF_TIME = timedelta(minutes=_lockout_minutes)
if AXES_FAILURE_LIMIT < 1 or _lockout_minutes < 1:
    raise ImproperlyConfigured(
        "TRACKER_LOGIN_FAILURE_LIMIT and TRACKER_LOGIN_LOCKOUT_MINUTES must be at least 1."
    )
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
# Attempts during a lockout are refused unseen: the lockout ends a fixed time after the last
# counted failure, which is what Retry-After announces.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "proposals.api.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "proposals.api.throttling.lockout_response"

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
    # The parser bounds size and depth and refuses NUL characters (proposals/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["proposals.api.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "proposals.api.renderers.ContentNegotiation",
    "DEFAULT_THROTTLE_CLASSES": ["proposals.api.throttling.AnonymousThrottle"],
    "NUM_PROXIES": TRACKER_TRUSTED_PROXIES,
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
        "proposals.api.parsers.document_body_limits",
        "proposals.api.schema.actor_code_rules",
        "proposals.api.schema.citation_rules",
        "proposals.api.schema.date_precision_rules",
        "proposals.api.schema.selected_list_items",
    ],
}

# --- Interactive docs and Content-Security-Policy ------------------------------------------
# Swagger UI comes from the service's own static files (drf-spectacular-sidecar, pinned in
# pyproject.toml): /api/docs/ works offline, and no page loads anything from another origin.
SPECTACULAR_SETTINGS |= {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR"}
# One policy for every response (django-csp). No page runs inline script: the admin's, the
# browsable API's and the docs' scripts are all static files. DRF's browsable API and
# simple-history's pages set a few style attributes (layout only), hence style-src-attr.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        # The browsable API's code-highlighting style is inline, with the request's nonce.
        "style-src": [csp.SELF, csp.NONCE],
        "style-src-attr": [csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.NONE],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    }
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

# --- CORS: read-only browser clients on other origins -----------------------------------------
# Origins (``https://analysis.example.org``) whose pages may read the API with fetch(); ``*`` for
# any. Reads only: writes need a token and come from scripts, not from other sites' pages.
_cors = env_list("TRACKER_CORS_ALLOWED_ORIGINS", [])
if _cors == ["*"]:
    CORS_ALLOW_ALL_ORIGINS = True
else:
    for _origin in _cors:
        _parts = urlsplit(_origin)
        if _parts.scheme not in {"http", "https"} or not _parts.netloc or _parts.path:
            raise ImproperlyConfigured(
                f"TRACKER_CORS_ALLOWED_ORIGINS must list origins or be *, not {_origin!r} "
                "(e.g. TRACKER_CORS_ALLOWED_ORIGINS=https://analysis.example.org)"
            )
    CORS_ALLOWED_ORIGINS = _cors
CORS_URLS_REGEX = r"^/api/v1/"
CORS_ALLOW_METHODS = ("GET", "HEAD", "OPTIONS")
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ("accept", "if-none-match", "x-request-id")
CORS_EXPOSE_HEADERS = ("ETag", "Link", "Retry-After", "X-Request-ID")
CORS_PREFLIGHT_MAX_AGE = 86400

# --- Metrics -----------------------------------------------------------------------------------
# When set, GET /metrics needs "Authorization: Bearer <token>" (see config/metrics.py).
TRACKER_METRICS_TOKEN = os.environ.get("TRACKER_METRICS_TOKEN", "")

# --- Logs ---------------------------------------------------------------------------------------
# One JSON object per line (time, level, logger, event, and the request id of the request that
# logged it or queued the task that did), or aligned text for a terminal (the default with debug).
LOG_FORMAT = os.environ.get("TRACKER_LOG_FORMAT") or ("console" if DEBUG else "json")
if LOG_FORMAT not in {"json", "console"}:
    raise ImproperlyConfigured(
        f"TRACKER_LOG_FORMAT must be json or console, not {LOG_FORMAT!r} "
        "(e.g. TRACKER_LOG_FORMAT=json)"
    )
_log_chain: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.dict_tracebacks,
                structlog.processors.JSONRenderer(),
            ],
            "foreign_pre_chain": [*_log_chain, structlog.stdlib.PositionalArgumentsFormatter()],
        },
        "console": {
            "()": structlog.stdlib.ProcessorFormatter,
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.dev.ConsoleRenderer(colors=False),
            ],
            "foreign_pre_chain": [*_log_chain, structlog.stdlib.PositionalArgumentsFormatter()],
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}
structlog.configure(
    processors=[
        structlog.stdlib.filter_by_level,
        *_log_chain,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.UnicodeDecoder(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
# Every request logs request_started / request_finished (method, path, status, user, client
# address) with its request id, handed back as X-Request-ID, and every task it queues logs under
# the same id.
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# Take the request id from an X-Request-ID header set by a proxy in front (never from clients).
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = env_bool("TRACKER_TRUST_REQUEST_ID", default=False)
# Celery keeps the logging configured here instead of installing its own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
