"""The data-quality queue in the admin site: a page under the proposals app, listed on the
admin index beside the models. It shows ``proposals.quality``'s findings with links to fix each.

A page reads only the findings it shows (``quality.page``); the number of findings of every rule
reads all the data, so it is shown only when the curator asks for it (``?counts=1``).

There is no model behind it (a model would need a migration), so ``install`` adds its URL and
its index entry to an admin site.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.http import urlencode

from proposals import quality

PAGE_SIZE = 100
URL_NAME = "proposals_quality"
# Curators see the queue; it shows facts and sources, so reading those is what it takes.
PERMISSION = "proposals.view_event"


def _page_number(raw: str | None) -> int:
    """``?p=``: a page number; anything else is the first page."""
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) <= 10**9 else 1


def quality_queue(site: AdminSite) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        rule = request.GET.get("rule")
        if rule not in quality.RULE_IDS:
            rule = None
        number = _page_number(request.GET.get("p"))
        counted = bool(request.GET.get("counts"))
        found = quality.page(
            offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1, rules=[rule] if rule else ()
        )
        tally = quality.rule_counts() if counted else None

        def link(**changes: Any) -> str:
            query = {"rule": rule, "p": None, "counts": "1" if counted else None, **changes}
            return "?" + urlencode({key: value for key, value in query.items() if value})

        context = {
            **site.each_context(request),
            "title": "Data-quality queue",
            "rule": rule,
            "rules": [
                (r.id, r.title, tally[r.id] if tally else None, link(rule=r.id))
                for r in quality.RULES
            ],
            "all_url": link(rule=None),
            "counts_url": link(counts="1"),
            "total": sum(tally.values()) if tally else None,
            "shown": (tally[rule] if rule else sum(tally.values())) if tally else None,
            "number": number,
            "previous_url": link(p=number - 1 if number > 2 else None) if number > 1 else None,
            "next_url": link(p=number + 1) if len(found) > PAGE_SIZE else None,
            "rows": [(finding, quality.admin_path(finding)) for finding in found[:PAGE_SIZE]],
            "api_url": reverse("quality"),
        }
        return TemplateResponse(request, "admin/proposals/quality_queue.html", context)

    return view


def install(site: AdminSite) -> None:
    """Serve the queue at ``<admin>/proposals/quality/`` and list it under the proposals app."""
    get_urls = site.get_urls
    get_app_list = site.get_app_list

    def urls() -> list[URLResolver | URLPattern]:
        own = path("proposals/quality/", site.admin_view(quality_queue(site)), name=URL_NAME)
        return [own, *get_urls()]

    def app_list(request: HttpRequest, app_label: str | None = None) -> list[Any]:
        apps = get_app_list(request, app_label)
        if not request.user.has_perm(PERMISSION):
            return apps
        for app in apps:
            if app["app_label"] == "proposals":
                app["models"].append(
                    {
                        "name": "Data-quality queue",
                        "object_name": "QualityQueue",
                        "perms": {"view": True},
                        "admin_url": reverse(f"{site.name}:{URL_NAME}"),
                        "add_url": None,
                        "view_only": True,
                    }
                )
                app["models"].sort(key=lambda model: model["name"])
        return apps

    site.get_urls = urls  # type: ignore[method-assign]
    site.get_app_list = app_list  # type: ignore[method-assign]
