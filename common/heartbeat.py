"""The web worker's "still alive" signal, for a response that takes longer than the timeout.

gunicorn's master kills a worker that has not signalled for ``timeout`` seconds. A sync worker
signals only between requests, so a response still being streamed after ``timeout`` seconds
(the whole export at 100,000 measures takes minutes) would be killed half-sent. Streamed
responses call ``beat()`` after each chunk they send: the worker stays alive while the response
makes progress, and a request stuck for ``timeout`` seconds in one query or one write is still
killed. ``config/gunicorn.py`` registers the worker's signal when the worker starts; outside
gunicorn (tests, ``runserver``) ``beat()`` does nothing.
"""

from __future__ import annotations

from collections.abc import Callable

_signal: Callable[[], None] | None = None


def register(signal: Callable[[], None] | None) -> None:
    """Called once per worker process, after the fork: ``signal`` is ``worker.notify`` (None:
    no worker to keep alive)."""
    global _signal  # one worker per process: the signal is the process's own
    _signal = signal


def beat() -> None:
    if _signal is not None:
        _signal()
