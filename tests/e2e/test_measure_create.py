"""Flow 2: a curator records a new measure with its categories, an event and a position, and
cites for the position a source the tracker does not know yet, by its URL."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from proposals.models import Measure
from tests.factories import ActorFactory
from tracker.models import Source

from .admin_pages import (
    add_event,
    add_position,
    choose_categories,
    cite_new_source_on_position,
    fill_measure,
    readonly,
    save_and_continue,
    signed_in,
    success_message,
)
from .conftest import OpenTab

pytestmark = pytest.mark.django_db(transaction=True)

STATEMENT = "https://www.example.org/statements/2024-04-02-launch-notification"


def test_a_curator_records_a_measure_citing_a_new_source(
    open_tab: OpenTab, admin_user: User, categories: None
) -> None:
    usa = ActorFactory(code="USA", name="United States")
    ActorFactory(code="CHN", name="China")
    tab = open_tab("measure-create")
    signed_in(tab, admin_user)
    tab.open("/admin/proposals/measure/add/")

    fill_measure(
        tab,
        title="Missile launch notification agreement",
        summary="Each side notifies the other of ballistic missile launches 24 hours ahead.",
        form="Agreement",
        scope="Bilateral",
    )
    choose_categories(tab, "Advance notification of missile launches", "Transparency measure")
    tab.shoot("1-measure")
    add_event(tab, date="2024-05-01", kind="Signed")
    add_position(
        tab,
        date="2024-04-02",
        actor=usa,
        stance="Endorses",
        quote="We welcome advance notification of launches.",
    )
    tab.shoot("2-event-and-position", at="#events-group")
    save_and_continue(tab)

    assert "was added successfully" in success_message(tab)
    assert readonly(tab, "status") == "Signed"
    measure = Measure.objects.get(slug="missile-launch-notification-agreement")
    assert sorted(measure.categories.values_list("code", flat=True)) == [
        "launch_notification",
        "transparency",
    ]
    (event,) = measure.events.all()
    assert (event.kind, event.date.isoformat(), event.actor) == ("signed", "2024-05-01", None)

    cite_new_source_on_position(tab, row=0, url=STATEMENT, title="Statement on launches")

    assert "was changed successfully" in success_message(tab)
    tab.shoot("3-position-cited")
    (position,) = measure.positions.all()
    assert (position.actor, position.stance) == (usa, "endorses")
    source = Source.objects.get(url=STATEMENT)
    assert source.title == "Statement on launches"
    assert list(position.citations.values_list("source", flat=True)) == [source.pk]
    tab.open(f"/admin/proposals/measure/{measure.pk}/change/")
    assert "United States (USA)" in tab.text("#positions-group")
    tab.shoot("4-measure-saved", at="#positions-group")
