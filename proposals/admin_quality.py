"""The data-quality queue in the admin site: a page under the proposals app, listed on the
admin index beside the models. It shows ``proposals.quality``'s findings with links to fix each.

There is no model behind it (a model would need a migration), so ``install`` adds its URL and
its index entry to an admin site.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse

from proposals import quality

PAGE_SIZE = 100
URL_NAME = "proposals_quality"
# Curators see the queue; it shows facts and sources, so reading those is what it takes.
PERMISSION = "proposals.view_event"


def quality_queue(site: AdminSite) -> Callable[[HttpRequest], HttpResponse]:
    def view(request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        found = quality.findings()
        tally = quality.counts(found)
        rule = request.GET.get("rule")
        if rule not in tally:
            rule = None
        shown = [finding for finding in found if finding.rule == rule] if rule else found
        page = Paginator(shown, PAGE_SIZE).get_page(request.GET.get("p"))
        context = {
            **site.each_context(request),
            "title": "Data-quality queue",
            "rule": rule,
            "rules": [(r.id, r.title, tally[r.id]) for r in quality.RULES],
            "total": len(found),
            "page": page,
            "rows": [(finding, quality.admin_path(finding)) for finding in page],
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
