"""Flow 9, as far as it goes today: every picture on the curators' pages loads and every SVG
image says what it shows. (The timeline, matrix and source-health pictures join this flow
when their pages have them.)"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.factories import EventFactory, MeasureFactory, SourceFactory

from .admin_pages import signed_in
from .browser import broken_images
from .conftest import OpenTab

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_picture_on_the_curation_pages_loads_and_has_an_alt(
    open_tab: OpenTab, admin_user: User, categories: None
) -> None:
    measure = EventFactory(measure=MeasureFactory(slug="hotline")).measure
    source = SourceFactory(is_primary=True)
    tab = open_tab("pictures")
    signed_in(tab, admin_user)

    pictures = 0
    for path in (
        "/admin/",
        "/admin/proposals/measure/",
        f"/admin/proposals/measure/{measure.pk}/change/",
        "/admin/tracker/source/",
        f"/admin/tracker/source/{source.pk}/change/",
    ):
        tab.open(path)
        assert broken_images(tab.driver) == [], path
        pictures += len(tab.find_all("img"))

    assert pictures > 0
    tab.open("/admin/tracker/source/")
    assert tab.find(".field-is_primary img").get_attribute("alt") == "True"


def test_a_picture_that_does_not_load_or_has_no_alt_is_found(
    open_tab: OpenTab, admin_user: User
) -> None:
    tab = open_tab("pictures")
    signed_in(tab, admin_user)
    tab.open("/admin/")
    tab.driver.execute_script(
        "for (const [src, alt] of [['/static/admin/img/icon-yes.svg', ''],"
        " ['/static/admin/img/no-such-picture.svg', 'missing']]) {"
        "  const img = document.createElement('img'); img.src = src; img.alt = alt;"
        "  document.body.append(img); }"
    )

    found = broken_images(tab.driver)

    assert [line.split(" ", 2)[:2] for line in found] == [["no", "alt:"], ["not", "loaded:"]]
    assert found[0].endswith("/static/admin/img/icon-yes.svg")
    assert found[1].endswith("/static/admin/img/no-such-picture.svg")
    tab.collect()
    tab.logged.clear()  # the missing picture's 404, provoked above
