"""Rendered list pages, kept in each web process's memory under their strong ``ETag``.

A list's ``ETag`` (``proposals.api.conditional.list_etag``) already names everything its body
depends on: the data version (any write anywhere changes it), the day, the path, the query and
the media type. So the bytes rendered for one ``ETag`` are the bytes of every later request
with the same ``ETag``, on the same scheme and host (the body holds absolute URLs), until a write
changes it; a later request is then answered from memory after the one query that computes the
``ETag``, as a ``304`` is. Nothing is ever invalidated: an old ``ETag`` is simply never computed
again, and its page leaves the cache as the least recently used.

- Only JSON and CSV pages, only ``200`` answers (never the browsable API's HTML, which shows the
  user).
- ``Cache-Control: no-cache`` (or ``no-store``) on a request builds its page afresh (and keeps the
  fresh one).
- ``TRACKER_API_LIST_CACHE_MB`` bounds the bytes each web process keeps (default 16; 0 turns the
  cache off).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from cachetools import LRUCache
from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

# Headers the view itself sets on a list; the middleware adds the rest on every answer alike.
_KEPT_HEADERS = ("Content-Type", "Link", "Content-Disposition", "ETag", "Cache-Control")


@dataclass(frozen=True)
class Page:
    content: bytes
    headers: tuple[tuple[str, str], ...]

    def response(self) -> Response:
        # Already rendered: DRF finalizes it as any response, and nothing renders it again.
        response = Response()
        response.content = self.content
        for name, value in self.headers:
            response[name] = value
        return response


class ListCache:
    """A least-recently-used map from (``ETag``, scheme and host) to a rendered page, bounded
    by the pages' bytes. Safe to share between threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pages: LRUCache[tuple[str, str], Page] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda page: len(page.content)
        )
        self._lock = threading.Lock()

    @staticmethod
    def _key(request: Request, etag: str) -> tuple[str, str]:
        return etag, f"{request.scheme}://{request.get_host()}"

    def get(self, request: Request, etag: str) -> Response | None:
        if _refuses_stored(request):
            return None
        with self._lock:
            page = self._pages.get(self._key(request, etag))
        return page.response() if page is not None else None

    def keep(self, request: Request, etag: str, response: Response) -> None:
        """Store ``response``'s body once it is rendered (a ``200`` DRF response only)."""
        if response.status_code != 200 or not isinstance(response, Response):
            return
        key = self._key(request, etag)

        def store(rendered: Response) -> None:
            content = rendered.content
            if len(content) > self.max_bytes:
                return
            headers = tuple(
                (name, rendered[name]) for name in _KEPT_HEADERS if rendered.has_header(name)
            )
            with self._lock:
                self._pages[key] = Page(content, headers)

        response.add_post_render_callback(store)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


def _refuses_stored(request: Request) -> bool:
    directives = request.headers.get("Cache-Control", "").lower()
    return any(directive.strip() in ("no-cache", "no-store") for directive in directives.split(","))


_cache: ListCache | None = None


def list_cache() -> ListCache | None:
    """This process's cache, sized by the settings (None when turned off)."""
    global _cache  # one cache per process, made on first use
    size = settings.TRACKER_API_LIST_CACHE_BYTES
    if size <= 0:
        return None
    if _cache is None or _cache.max_bytes != size:
        _cache = ListCache(size)
    return _cache
