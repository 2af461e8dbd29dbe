"""Request-level guards that hold for every route (the API and the admin alike).

``RejectNulCharacters``: PostgreSQL cannot hold the NUL character in text, so a NUL (``%00``)
that reaches a query as part of a slug, a search term or a cookie's session key is a database
error, which would be a 500. One check here, before any view runs, instead of one per field: a
NUL in the path is a 404 (no row is named by it), in a query parameter, header or cookie a 400.
JSON bodies are checked by their parser (``proposals.api.parsers``), where escapes such as
``\\u0000`` are decoded; form fields by Django's own ``ProhibitNullCharactersValidator``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

NUL = "\x00"


class RejectNulCharacters:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = nul_problem(request)
        if problem is not None:
            status, message = problem
            return JsonResponse({"detail": message}, status=status)
        return self.get_response(request)


def nul_problem(request: HttpRequest) -> tuple[int, str] | None:
    """The status and message to refuse ``request`` with, if a NUL is anywhere but its body."""
    if NUL in request.path:
        return 404, "No resource has a NUL character (%00) in its path."
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in value for value in values):
            return 400, f"Query parameter {_shown(name)} contains a NUL character (%00)."
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and NUL in value:
            header = key.removeprefix("HTTP_").replace("_", "-").title()
            return 400, f"Header {header} contains a NUL character."
    for name, value in request.COOKIES.items():
        if NUL in name or NUL in value:
            return 400, f"Cookie {_shown(name)} contains a NUL character."
    return None


def _shown(name: str) -> str:
    return repr(name.replace(NUL, "%00"))
