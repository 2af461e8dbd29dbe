"""Error pages: under /api/ and /metrics a JSON body like every other API answer; elsewhere
Django's HTML pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

_JSON_PREFIXES = ("/api/", "/metrics", "/health/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(_JSON_PREFIXES):
        return JsonResponse({"detail": f"Nothing here: {request.path}. See /api/v1/."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(_JSON_PREFIXES):
        return JsonResponse(
            {"detail": "Server error; the request id in X-Request-ID names it in the logs."},
            status=500,
        )
    return defaults.server_error(request)
