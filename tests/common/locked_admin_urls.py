"""The service's routes plus an admin site whose measure page has the optimistic lock, as
``proposals.admin.MeasureAdmin`` gets it: a page with inlines (parties, events, positions,
citations)."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.urls import path

from common.admin_concurrency import OptimisticLockAdmin
from config.urls import urlpatterns as service_urlpatterns
from proposals.admin import EventAdmin, MeasureAdmin
from proposals.models import Event, Measure


class LockedMeasureAdmin(OptimisticLockAdmin, MeasureAdmin):
    pass


site = AdminSite(name="locked")
site.register(Measure, LockedMeasureAdmin)
site.register(Event, EventAdmin)

urlpatterns = [path("locked/", site.urls), *service_urlpatterns]
