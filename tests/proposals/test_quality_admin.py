"""The data-quality queue in the admin site: linked from the index, filtered by rule, in a
fixed number of queries, and only for curators."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.factories import MeasureFactory, PositionFactory, SourceFactory

pytestmark = pytest.mark.django_db

URL = "/admin/proposals/quality/"


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
    filtered = admin_client.get(URL, {"rule": "uncited_source"}).content.decode()

    position_link = reverse("admin:proposals_position_change", args=[position.pk])
    source_link = reverse("admin:tracker_source_change", args=[source.pk])
    assert position_link in page
    assert source_link in page
    assert "This position has no quote" in page
    assert source_link in filtered
    assert position_link not in filtered
    assert "uncited_source (1)" in filtered


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
def test_it_runs_a_fixed_number_of_queries(
    admin_client: Client,
    django_assert_num_queries: Callable[..., AbstractContextManager[object]],
    size: int,
) -> None:
    populate(size)
    # The session, the user, then the rules' 15 queries.
    with django_assert_num_queries(17):
        response = admin_client.get(URL)
    assert response.status_code == 200
