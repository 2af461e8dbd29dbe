"""gunicorn's settings for the web process: ``gunicorn config.wsgi -c config/gunicorn.py``.

Every value can be overridden on the command line or by gunicorn's own environment variables
(``GUNICORN_CMD_ARGS``); ``WEB_CONCURRENCY`` sets the number of workers.
"""

import os
from typing import Any

import structlog

bind = os.environ.get("TRACKER_BIND", "0.0.0.0:8000")  # all interfaces: inside a container
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# A worker silent for this long is replaced. A sync worker is silent for the whole of a request,
# so a streamed response (the export, the matrix CSV) signals after each chunk it sends
# (``post_worker_init`` below): it may run longer, a request stuck this long in one step may not.
timeout = int(os.environ.get("TRACKER_WEB_TIMEOUT", "60"))
# The kernel's accept queue holds new connections while every worker is busy.
backlog = 512
# One JSON line per request on stdout, beside the application's JSON logs: the request id is
# the one every application log line of that request carries (the X-Request-ID response header).
accesslog = "-"  # written through the "access" handler below
access_log_format = (
    '{"event": "access", "time": "%(t)s", "remote": "%(h)s", "method": "%(m)s", '
    '"path": "%(U)s", "query": "%(q)s", "status": %(s)s, "bytes": "%(B)s", '
    '"duration_ms": %(M)s, "user_agent": "%(a)s", "request_id": "%({x-request-id}o)s"}'
)


def post_worker_init(worker: Any) -> None:
    from common import heartbeat

    heartbeat.register(worker.notify)


# Load the application before forking: start-up errors (a bad environment value) stop the
# master with one line instead of every worker failing in turn.
preload_app = True
# gunicorn's own messages as JSON lines too (the access lines are JSON already).
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "structlog.stdlib.ProcessorFormatter",
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            "foreign_pre_chain": [
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
            ],
        },
        "line": {"format": "%(message)s"},
    },
    "handlers": {
        "error": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "line",
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"handlers": ["error"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}
