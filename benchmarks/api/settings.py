"""Settings of the API benchmark: the service's own settings, unchanged, except that the URLconf
adds the hand-written baseline view beside the real API, so both answer through the same
middleware, database settings and gunicorn workers."""

# Every value of the service's settings module, as a deployment would have them.
from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.api.urls"
