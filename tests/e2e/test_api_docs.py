"""Flow 8: the interactive API docs load and show every operation of the schema, with no
request leaving the machine (Swagger UI is served from the service's own static files)."""

from __future__ import annotations

import pytest
from django.test import Client

from .conftest import OpenTab

pytestmark = pytest.mark.django_db(transaction=True)

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def test_the_docs_render_every_operation_of_the_schema(open_tab: OpenTab) -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in METHODS
    }
    tab = open_tab("api-docs")

    tab.open("/api/docs/")

    tab.wait(lambda d: len(tab.find_all(".opblock")) >= len(operations))
    shown = {
        (
            block.find_element("css selector", ".opblock-summary-method").text,
            block.find_element("css selector", ".opblock-summary-path").get_attribute("data-path"),
        )
        for block in tab.find_all(".opblock")
    }
    assert shown == operations
    assert tab.text(".info .title").startswith(schema["info"]["title"])
    tab.shoot("1-operations", at=".opblock-tag")
    tab.assert_clean()
    assert len(tab.requested) > 3  # the page, its scripts and styles, and the schema
