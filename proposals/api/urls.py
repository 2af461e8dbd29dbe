"""The whole API under /api/v1/: one router for the resources, plus the feeds."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from proposals.api.bulk import ExportView, ImportView
from proposals.api.feeds import ChangesView, MatrixView
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

router = DefaultRouter()
router.register("measures", MeasureViewSet, basename="measure")
router.register("actors", ActorViewSet, basename="actor")
router.register("positions", PositionViewSet, basename="position")
router.register("events", EventViewSet, basename="event")
router.register("sources", SourceViewSet, basename="source")
router.register("citations", CitationViewSet, basename="citation")

urlpatterns = [
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
