"""What every entry point (manage.py, the WSGI application, the Celery app) does first."""

from __future__ import annotations

import sys

from django.core.exceptions import ImproperlyConfigured


def settings_or_exit() -> None:
    """Load the settings; on a bad environment value, print the one line that names the
    variable, its problem and an example, and exit with status 2 — before anything runs."""
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 - reading a setting loads them all
    except ImproperlyConfigured as error:
        sys.stderr.write(f"Configuration error: {error}\n")
        raise SystemExit(2) from None
