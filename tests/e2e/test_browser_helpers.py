"""The judges every flow relies on, without a browser: which requested URLs left the service."""

from __future__ import annotations

import pytest

from .browser import leaving

ORIGIN = "http://localhost:8081"


@pytest.mark.parametrize(
    ("url", "left"),
    [
        ("http://localhost:8081/admin/", False),
        ("data:image/svg+xml;base64,PHN2Zy8+", False),
        ("blob:http://localhost:8081/5d1c", False),
        ("about:blank", False),
        ("http://localhost:8082/admin/", True),  # another port is another server
        ("https://localhost:8081/admin/", True),
        ("http://127.0.0.1:8081/admin/", True),  # the same machine, but not the service's name
        ("https://fonts.example.org/font.woff2", True),
        ("wss://localhost:8081/socket", True),
    ],
)
def test_a_request_leaves_unless_it_is_to_the_service_or_in_the_page(url: str, left: bool) -> None:
    assert leaving([url], ORIGIN) == ([url] if left else [])
