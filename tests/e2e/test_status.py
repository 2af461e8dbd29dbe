"""Flow 3: the derived status on the measure's page follows an entry-into-force event added
there."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import User

from proposals.models import Event, Measure
from tests.factories import EventFactory, MeasureFactory

from .admin_pages import add_event, save_and_continue, signed_in, status_shown, success_message
from .conftest import OpenTab

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_status_shown_follows_an_entry_into_force(
    open_tab: OpenTab, admin_user: User, categories: None
) -> None:
    measure = MeasureFactory(
        slug="incidents-at-sea", title="Incidents at sea agreement", scope="bilateral"
    )
    EventFactory(measure=measure, kind=Event.Kind.SIGNED, date=datetime.date(2024, 1, 15))
    tab = open_tab("status")
    signed_in(tab, admin_user)
    tab.open(f"/admin/proposals/measure/{measure.pk}/change/")
    assert status_shown(tab) == "Signed"

    add_event(tab, date="2024-06-01", kind="Entered into force")
    tab.shoot("1-entry-into-force-added", at="#events-group")
    save_and_continue(tab)

    assert "was changed successfully" in success_message(tab)
    assert status_shown(tab) == "In force"
    assert "Derived today: status In force" in tab.text(".messagelist .info")
    measure.refresh_from_db()
    assert measure.status == Measure.Status.IN_FORCE
    tab.shoot("2-in-force", at=".field-status_today")
