"""The stance matrix as a heatmap in the admin (/admin/matrix/): the curator's filters reach the
API's picture, which shows the stances they select; a bad filter is a form error, not a picture."""

from __future__ import annotations

import datetime
import html
import re

import pytest
from django.test import Client

from common import palette
from tests.factories import ActorFactory, MeasureFactory, PositionFactory
from tests.proposals.svg_pictures import grid, parse

pytestmark = pytest.mark.django_db

PAGE = "/admin/matrix/"


def picture_of(page: str) -> str:
    found = re.search(r'<img src="([^"]+)" alt="Stances of actors', page)
    assert found, page
    return html.unescape(found.group(1))


def test_the_page_shows_the_matrix_filtered_as_asked(admin_client: Client) -> None:
    usa, rus = ActorFactory(code="USA"), ActorFactory(code="RUS")
    hotline = MeasureFactory(slug="hotline", categories=["hotline"])
    PositionFactory(measure=hotline, actor=usa, stance="endorses", date=datetime.date(2000, 1, 1))
    PositionFactory(measure=hotline, actor=rus, stance="opposes", date=datetime.date(2010, 1, 1))

    page = admin_client.get(PAGE, {"as_of": "2005-01-01", "category": "hotline", "actor": "usa"})

    assert page.status_code == 200
    picture = picture_of(page.content.decode())
    assert picture == "/api/v1/matrix.svg?as_of=2005-01-01&category=hotline&actor=USA"
    csv = "/api/v1/matrix/?as_of=2005-01-01&category=hotline&actor=USA&format=csv"
    assert f'href="{html.escape(csv)}"' in page.content.decode()
    # Only the actor picked, with the stance it held on that day (not its later one).
    cells = grid(parse(admin_client.get(picture)))
    assert cells == {("USA", "hotline"): ("endorses", palette.STANCE["endorses"])}


def test_nothing_picked_is_todays_whole_matrix(admin_client: Client) -> None:
    page = admin_client.get(PAGE)

    assert page.status_code == 200
    assert picture_of(page.content.decode()) == "/api/v1/matrix.svg"


def test_a_bad_filter_is_a_form_error_and_no_picture(admin_client: Client) -> None:
    page = admin_client.get(PAGE, {"as_of": "2005-13-01", "category": "nonsense"})

    text = page.content.decode()
    assert page.status_code == 200
    assert "Enter a valid date." in text
    assert "Select a valid choice. nonsense is not one of the available choices." in text
    assert "<img" not in text.split('id="content-main"')[1]


def test_the_page_needs_a_staff_login(client: Client) -> None:
    page = client.get(PAGE)

    assert page.status_code == 302
    assert page["Location"].startswith("/admin/login/")
