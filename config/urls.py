"""Every route of the service: the admin site, the health check and the whole API."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config.health import health
from proposals.api.docs import DocsView

admin.site.site_header = "Arms-control proposal tracker"
admin.site.site_title = "Arms-control tracker"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("api/v1/", include("proposals.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", DocsView.as_view(), name="api-docs"),
    path("api-auth/", include("rest_framework.urls")),
]
