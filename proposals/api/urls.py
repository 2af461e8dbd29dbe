"""The whole API under /api/v1/: one router for the resources, plus the feeds."""

from typing import Any

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.routers import APIRootView, DefaultRouter

from proposals.api.bulk import ExportView, ImportView
from proposals.api.feeds import ChangesView, MatrixView
from proposals.api.pictures import (
    MatrixPictureView,
    SourceHealthView,
    SourcesHealthView,
    TimelineView,
)
from proposals.api.quality import QualityView
from proposals.api.views import (
    ActorViewSet,
    CitationViewSet,
    EventViewSet,
    LoginView,
    LogoutAllView,
    LogoutView,
    MeasureViewSet,
    PositionViewSet,
    SourceViewSet,
)

# The endpoints outside the router, by the key the API root lists them under and their URL name.
ENDPOINTS = {
    "matrix": "matrix",
    "matrix_svg": "matrix-picture",
    "sources_health_svg": "sources-health-picture",
    "changes": "changes",
    "export": "export",
    "import": "import",
    "quality": "quality",
    "login": "knox_login",
    "logout": "knox_logout",
    "logoutall": "knox_logoutall",
    "schema": "schema",
    "docs": "api-docs",
}


class APIRoot(APIRootView):
    """Every top-level endpoint of the API: the resources, the matrix and the change feed, the
    export and the import, the data-quality queue, curator sign-in and sign-out, the OpenAPI
    schema and its interactive documentation, and the pictures of the matrix and of the
    sources' health."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response.data.update(
            {key: reverse(name, request=request) for key, name in ENDPOINTS.items()}
        )
        return response


router = DefaultRouter()
router.APIRootView = APIRoot
router.register("measures", MeasureViewSet, basename="measure")
router.register("actors", ActorViewSet, basename="actor")
router.register("positions", PositionViewSet, basename="position")
router.register("events", EventViewSet, basename="event")
router.register("sources", SourceViewSet, basename="source")
router.register("citations", CitationViewSet, basename="citation")

urlpatterns = [
    # The pictures come first: the router's format suffixes would take sources/health.svg for
    # the source "health" as SVG.
    path("measures/<slug:slug>/timeline.svg", TimelineView.as_view(), name="measure-timeline"),
    path("matrix.svg", MatrixPictureView.as_view(), name="matrix-picture"),
    path("sources/health.svg", SourcesHealthView.as_view(), name="sources-health-picture"),
    path("sources/<int:id>/health.svg", SourceHealthView.as_view(), name="source-health-picture"),
    *router.urls,
    path("auth/login/", LoginView.as_view(), name="knox_login"),
    path("auth/logout/", LogoutView.as_view(), name="knox_logout"),
    path("auth/logoutall/", LogoutAllView.as_view(), name="knox_logoutall"),
    path("matrix/", MatrixView.as_view(), name="matrix"),
    path("changes/", ChangesView.as_view(), name="changes"),
    path("export/", ExportView.as_view(), name="export"),
    path("import/", ImportView.as_view(), name="import"),
    path("quality/", QualityView.as_view(), name="quality"),
]
