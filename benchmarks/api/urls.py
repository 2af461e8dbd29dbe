"""Every route of the service, plus the baseline view the API is compared with."""

from django.urls import path

from benchmarks.api.baseline import measure_list
from config.urls import urlpatterns as service_urlpatterns

BASELINE_PATH = "/baseline/measures/"

urlpatterns = [
    path(BASELINE_PATH.lstrip("/"), measure_list, name="baseline-measure-list"),
    *service_urlpatterns,
]
