"""Production settings pass Django's deployment checks."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_check_deploy_is_clean_with_production_values(settings: object) -> None:
    # The suite runs without the HTTPS redirect so the test client needs no TLS; production
    # (the default with debug off) has it.
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["tracker.example.org"]
    out = io.StringIO()
    call_command("check", "--deploy", "--fail-level", "WARNING", stdout=out, stderr=out)
    assert "no issues" in out.getvalue()
