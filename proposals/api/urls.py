"""The API's one router: every resource under /api/v1/."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()
