"""The data-quality queue in the admin site: linked from the index, filtered by rule, in a
fixed number of queries, and only for curators."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.factories import MeasureFactory, PositionFactory, SourceFactory

pytestmark = pytest.mark.django_db

URL = "/admin/proposals/quality/"
CHANGE_LINK = re.compile(r"/admin/tracker/source/\d+/change/")


def test_the_admin_index_links_to_the_queue(admin_client: Client) -> None:
    assert reverse("admin:proposals_quality") == URL

    index = admin_client.get(reverse("admin:index"))
    app = admin_client.get(reverse("admin:app_list", args=["proposals"]))

    assert f'href="{URL}"' in index.content.decode()
    assert "Data-quality queue" in app.content.decode()


def test_it_lists_findings_with_links_to_fix_them(admin_client: Client) -> None:
    position = PositionFactory(quote="")
    source = SourceFactory()

    page = admin_client.get(URL).content.decode()
    filtered = admin_client.get(URL, {"rule": "uncited_source", "counts": "1"}).content.decode()

    position_link = reverse("admin:proposals_position_change", args=[position.pk])
    source_link = reverse("admin:tracker_source_change", args=[source.pk])
    assert position_link in page
    assert source_link in page
    assert "This position has no quote" in page
    assert source_link in filtered
    assert position_link not in filtered
    assert "uncited_source (1)" in filtered
    assert "uncited_source (" not in page  # counted only when asked for
    assert "?counts=1" in page


def test_it_pages_the_findings(admin_client: Client) -> None:
    for _ in range(101):
        SourceFactory()

    first = admin_client.get(URL, {"rule": "uncited_source"}).content.decode()
    second = admin_client.get(URL, {"rule": "uncited_source", "p": "2"}).content.decode()
    past = admin_client.get(URL, {"rule": "uncited_source", "p": "3"}).content.decode()

    assert len(CHANGE_LINK.findall(first)) == 100
    assert 'href="?rule=uncited_source&amp;p=2">next</a>' in first
    assert len(CHANGE_LINK.findall(second)) == 1
    assert 'href="?rule=uncited_source">previous</a>' in second
    assert ">next</a>" not in second
    assert "the queue ends before it" in past


def test_staff_without_permission_to_read_facts_cannot_see_it(client: Client) -> None:
    user = User.objects.create_user("visitor", password="a long visitor passphrase", is_staff=True)
    client.force_login(user)

    assert client.get(URL).status_code == 403
    assert URL not in client.get(reverse("admin:index")).content.decode()


def populate(size: int) -> None:
    for _ in range(size):
        PositionFactory(quote="")
        SourceFactory()
        MeasureFactory(form="treaty", scope="bilateral")


@pytest.mark.parametrize("size", [2, 8])
@pytest.mark.parametrize(
    ("params", "queries"),
    [
        # 1 the session, 2 the user, 3-17 a page of every rule's branches (15): the page
        # (100) is not filled.
        ({}, 17),
        # The same, then 18-32 a COUNT of each branch.
        ({"counts": "1"}, 32),
        # 1 session, 2 user, 3 the quoteless positions.
        ({"rule": "position_without_quote"}, 3),
    ],
)
def test_it_runs_the_same_queries_at_any_size(
    admin_client: Client,
    django_assert_num_queries: Callable[..., AbstractContextManager[object]],
    size: int,
    params: dict[str, str],
    queries: int,
) -> None:
    populate(size)
    with django_assert_num_queries(queries):
        response = admin_client.get(URL, params)
    assert response.status_code == 200
    assert response.content.decode().count("This position has no quote") == size
