"""An API response lets go of its page once the server has closed it (Django's test client
closes it as a server does), so the page does not wait for a garbage collection."""

from __future__ import annotations

import gc

import pytest
from django.test import Client

from tests.factories import MeasureFactory

pytestmark = pytest.mark.django_db


def test_a_sent_api_response_holds_no_page(client: Client) -> None:
    MeasureFactory.create_batch(3)
    gc.disable()  # what is freed here is freed by reference counting alone
    try:
        response = client.get("/api/v1/measures/")
        assert response.status_code == 200
        assert len(response.json()["results"]) == 3  # the bytes were rendered and sent
        assert response.data is None  # type: ignore[attr-defined]
        assert response.renderer_context is None  # type: ignore[attr-defined]
    finally:
        gc.enable()
