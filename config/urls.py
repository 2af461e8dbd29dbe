"""Every route of the service: the admin site, the health check and the whole API."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from common import admin_tokens
from config.health import health, live
from config.metrics import metrics
from proposals.admin_dashboard import dashboard, matrix
from proposals.api.docs import DocsView

admin.site.site_header = "Arms-control proposal tracker"
admin.site.site_title = "Arms-control tracker"
# "View site": the interactive API docs, the service's one public page.
admin.site.site_url = "/api/docs/"
admin_tokens.install(admin.site)

urlpatterns = [
    path("admin/dashboard/", admin.site.admin_view(dashboard), name="admin-dashboard"),
    path("admin/matrix/", admin.site.admin_view(matrix), name="admin-matrix"),
    path("admin/tokens/", admin.site.admin_view(admin_tokens.api_tokens), name="api-tokens"),
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("health/live/", live, name="health-live"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", include("proposals.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", DocsView.as_view(), name="api-docs"),
    path("api-auth/", include("rest_framework.urls")),
]

handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
