"""Flow 5: a curator reverts an event to an earlier version from its audit history, and the
measure's derived status follows."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import User

from proposals.models import Event, Measure
from tests.factories import EventFactory, MeasureFactory

from .admin_pages import (
    choose,
    click_through,
    open_own_page,
    save_and_continue,
    signed_in,
    status_shown,
    success_message,
)
from .conftest import OpenTab

pytestmark = pytest.mark.django_db(transaction=True)


def test_reverting_an_event_brings_the_status_back(
    open_tab: OpenTab, admin_user: User, categories: None
) -> None:
    measure = MeasureFactory(slug="hotline", title="Direct communication link", scope="bilateral")
    event = EventFactory(measure=measure, kind=Event.Kind.SIGNED, date=datetime.date(2024, 3, 1))
    tab = open_tab("revert")
    signed_in(tab, admin_user)
    tab.open(f"/admin/proposals/measure/{measure.pk}/change/")
    choose(tab, "#id_events-0-kind", "Entered into force")  # the mistake to undo
    save_and_continue(tab)
    assert status_shown(tab) == "In force"

    open_own_page(tab, "events-0")
    click_through(tab, "a.historylink")
    versions = tab.wait_css("#change-history")
    assert [
        row.find_element("css selector", "td").text
        for row in versions.find_elements("css selector", "tbody tr")
    ] == ["entered into force 2024-03-01", "signed 2024-03-01"]
    tab.shoot("1-history")
    next(
        link
        for link in versions.find_elements("css selector", "tbody td a")
        if link.text == "signed 2024-03-01"
    ).click()
    tab.wait_css("input[value=Revert]")
    assert tab.find("#id_kind").get_attribute("value") == Event.Kind.SIGNED
    tab.shoot("2-revert-form")
    click_through(tab, "input[value=Revert]")

    assert success_message(tab) == "The event “signed 2024-03-01” was changed successfully."
    event.refresh_from_db()
    assert event.kind == Event.Kind.SIGNED
    tab.open(f"/admin/proposals/measure/{measure.pk}/change/")
    assert status_shown(tab) == "Signed"
    assert Measure.objects.get(pk=measure.pk).status == Measure.Status.SIGNED
    tab.shoot("3-status-followed", at=".field-status_today")
