"""The whole API under /api/v1/: one router for the resources, plus the feeds."""

from django.urls import path  # noqa: F401 - feed routes are added below the router

from rest_framework.routers import DefaultRouter

router = DefaultRouter()

urlpatterns = [
    *router.urls,
]
