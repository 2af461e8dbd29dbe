"""Every operation of the served schema, fuzzed in process by schemathesis, anonymously and as a
curator: no server errors, no undocumented status, content type or body, no valid request refused
and no invalid one accepted.

Each example runs against fresh seeded rows inside a transaction rolled back afterwards; about
half of the examples aim at those rows (a real slug, code or id) and writes then send ``If-Match``
as ``*``, the current ``ETag`` or whatever was generated. The only refusals of a valid request
the checks accept beyond schemathesis' defaults are the preconditions (412, 428), which are how a
write says "read it again first", and the two rules the schema states in words because OpenAPI
3.0 cannot (``documented_refusal``). A request naming a row that does not exist is a 404, which
the defaults accept. There is no list of known failures: any failure fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import Group, User
from django.core import signals
from django.core.cache import caches
from django.db import close_old_connections, transaction
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance
from werkzeug.test import Client as WSGIClient

from config.wsgi import application
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
    SourceCheckFactory,
)

# Examples per operation and generation phase: with two callers and 46 operations, a few
# thousand requests in a few minutes on two cores.
EXAMPLES = 10

CONFIG = SchemathesisConfig.from_dict(
    {
        # Reproducible (the same examples every run), and a failure is reported as found: CI
        # needs to know that it fails, shrinking it to the smallest example costs minutes.
        "generation": {
            # No string with a NUL character: the API refuses NUL anywhere (PostgreSQL text
            # cannot hold it), which OpenAPI 3.0 cannot state for the keys of free-form JSON
            # (`parameters`); the description says it and test_bad_input proves the refusals.
            "allow-x00": False,
            "max-examples": EXAMPLES,
            "database": "none",
            "deterministic": True,
            "no-shrink": True,
        },
        # Preconditions come before the body is read (RFC 9110, 13.2.1): a write with a stale or
        # missing If-Match is refused with 412 or 428 whatever its body, valid or not.
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "428", "429"]
            },
            "negative_data_rejection": {
                "expected-statuses": [
                    *("400", "401", "403", "404", "405", "406", "409", "412", "415", "422"),
                    *("428", "429"),
                ]
            },
        },
    }
)

with override_settings(ALLOWED_HOSTS=["localhost"]):
    # The schema exactly as the service serves it to clients.
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)


@pytest.fixture(autouse=True)
def in_process(settings: Any) -> Iterator[None]:
    settings.ALLOWED_HOSTS = ["localhost"]  # what schemathesis' WSGI client calls itself
    # As Django's test client does: a request must not close the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def seed() -> dict[str, str]:
    """Rows every kind of path can name, linked the way curators link them."""
    actor = ActorFactory(code="RUS")
    measure = MeasureFactory(slug="inf", parameters={"range_km": [500, 5500]})
    event = EventFactory(measure=measure, kind="signed", actor=actor)
    position = PositionFactory(measure=measure, actor=actor)
    citation = CitationFactory(measure=measure)
    CitationFactory(measure=None, event=event, source=citation.source)
    SourceCheckFactory(source=citation.source)
    return {
        "/api/v1/measures/{slug}/": "inf",
        "/api/v1/actors/{code}/": "RUS",
        "/api/v1/events/{id}/": str(event.pk),
        "/api/v1/positions/{id}/": str(position.pk),
        "/api/v1/citations/{id}/": str(citation.pk),
        "/api/v1/sources/{id}/": str(citation.source_id),
        "/api/v1/sources/{id}/checks/": str(citation.source_id),
        "/api/v1/sources/{id}/refresh/": str(citation.source_id),
    }


def curator_token() -> str:
    user = User.objects.create_user("fuzz-curator", password="a long curator passphrase")
    user.groups.add(Group.objects.get(name="curators"))
    return AuthToken.objects.create(user=user)[1]


def aim(case: Any, seeded: dict[str, str], if_match: str) -> None:
    """Point the case at the seeded row its path names, with the chosen ``If-Match``."""
    target = seeded.get(case.operation.path)
    if target is None:
        return
    (name,) = case.path_parameters
    case.path_parameters = {**case.path_parameters, name: target}
    if case.method in ("PUT", "PATCH", "DELETE"):
        if if_match == "current":
            url = case.operation.path.replace("{" + name + "}", target)
            # Through the same WSGI client as schemathesis: Django's test client would connect
            # again the signal handlers that close the database connection after a request.
            etag = WSGIClient(application).get(url, headers={"Host": "localhost"}).headers["ETag"]
            case.headers = {**(case.headers or {}), "If-Match": etag}
        elif if_match == "*":
            case.headers = {**(case.headers or {}), "If-Match": "*"}


def documented_refusal(case: Any, response: Any) -> bool:
    """A valid request the API refuses on purpose, as its schema says in words, for rules
    OpenAPI 3.0 cannot state: that one query parameter needs another (``format=csv`` needs
    ``table``), and that an import document's rows must agree with each other and with the
    stored rows (the 400 then is the import report, each rejected row with its reason)."""
    if case.operation.path == "/api/v1/export/":
        return (
            (case.query or {}).get("format") == "csv"
            and not (case.query or {}).get("table")  # absent, or empty: the same
            and response.status_code == 400
            and response.text.startswith("field,message\r\ntable,")
        )
    if case.operation.path == "/api/v1/import/" and response.status_code == 400:
        report = response.json()
        return report.get("applied") is False and bool(report.get("rejected"))
    return False


def run(case: Any, *, aimed: bool, if_match: str, as_curator: bool) -> None:
    # The throttles have their own tests; a fuzz run sends thousands of requests from one address.
    caches["throttle"].clear()
    failure = None
    with transaction.atomic():
        seeded = seed()
        headers = {"Authorization": f"Token {curator_token()}"} if as_curator else None
        if aimed:
            aim(case, seeded, if_match)
        response = case.call(headers=headers)
        excluded = [positive_data_acceptance] if documented_refusal(case, response) else []
        try:  # some checks send further requests, which see the seeded rows too
            case.validate_response(response, headers=headers, excluded_checks=excluded)
        except FailureGroup as found:
            failure = found
        transaction.set_rollback(True)
    if failure is not None:
        raise failure


FUZZ_SETTINGS = settings(
    deadline=None,
    # The database fixture is function-scoped on purpose: each example rolls its writes back.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@schema.parametrize()
@schema.given(aimed=st.booleans(), if_match=st.sampled_from(["generated", "*", "current"]))
@FUZZ_SETTINGS
def test_anonymous_clients(case: Any, aimed: bool, if_match: str, db: None) -> None:
    run(case, aimed=aimed, if_match=if_match, as_curator=False)


@schema.parametrize()
@schema.given(aimed=st.booleans(), if_match=st.sampled_from(["generated", "*", "current"]))
@FUZZ_SETTINGS
def test_curators(case: Any, aimed: bool, if_match: str, db: None) -> None:
    run(case, aimed=aimed, if_match=if_match, as_curator=True)
