"""A source's URL is fetched exactly as stored; the stored key of older rows is filled in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import SourceFactory
from tests.tracker.httpserver import LoopbackServer, Reply
from tracker import services
from tracker.models import Source


@pytest.mark.usefixtures("loopback_settings")
@pytest.mark.parametrize(
    ("path", "request_target"),
    [
        ("/db/index.pl?ABM_treaty", "/db/index.pl?ABM_treaty"),
        # Escapes stay escapes; urllib3 sends their hex digits in upper case (equivalent).
        ("/%7Euser/a%2fb?q=%7e&x", "/%7Euser/a%2Fb?q=%7E&x"),
        ("/~user/page#part-2", "/~user/page"),
        ("/ü?q=é", "/%C3%BC?q=%C3%A9"),
    ],
)
def test_the_refresh_requests_exactly_the_stored_url(
    server: LoopbackServer, path: str, request_target: str
) -> None:
    server.route(request_target.split("?")[0], Reply(body=b"<html><p>Text</p></html>"))
    source = SourceFactory(url=server.url(path))

    check = services.source_refresh(source_id=source.pk, force=True)

    assert check is not None
    assert check.http_status == 200
    assert [p for p in server.paths() if p != "/robots.txt"] == [request_target]
    source.refresh_from_db()
    assert source.url == server.url(path)


OLD, NEW = (
    ("tracker", "0003_sourcecheck_outcome_failed"),
    ("tracker", "0004_source_url_as_cited_with_match_key"),
)


@pytest.fixture
def before_the_key(transactional_db: None) -> Iterator[MigrationExecutor]:
    """The schema as it was before sources had a stored key; back to the latest afterwards."""
    executor = MigrationExecutor(connection)
    executor.migrate([OLD])
    yield executor
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_migration_fills_every_key(before_the_key: MigrationExecutor) -> None:
    OldSource = before_the_key.loader.project_state([OLD]).apps.get_model("tracker", "Source")
    abm = OldSource.objects.create(url="http://www.nti.org/db/index.pl?ABM_treaty=")
    tilde = OldSource.objects.create(url="https://example.org/%7euser/")

    before_the_key.loader.build_graph()
    before_the_key.migrate([NEW])

    keys = dict(Source.objects.values_list("pk", "url_key"))
    assert keys == {
        abm.pk: "http://www.nti.org/db/index.pl?ABM_treaty=",
        tilde.pk: "https://example.org/~user/",
    }


def test_the_migration_stops_at_two_sources_of_one_address(
    before_the_key: MigrationExecutor,
) -> None:
    OldSource = before_the_key.loader.project_state([OLD]).apps.get_model("tracker", "Source")
    first = OldSource.objects.create(url="https://example.org/~user/")
    second = OldSource.objects.create(url="https://example.org/%7Euser/")

    before_the_key.loader.build_graph()
    with pytest.raises(RuntimeError, match=f"Sources {first.pk} and {second.pk} cite the same"):
        before_the_key.migrate([NEW])

    second.delete()  # what an operator does before migrating again
