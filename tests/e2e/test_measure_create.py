"""Flow 2: a curator records a new measure with its categories, an event and a position, on the
measure's page alone: each fact cites a source the tracker does not know yet, typed as its URL
in the fact's row; saving creates the sources and the citations."""

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
    citations_of_row,
    cite_by_url,
    fill_measure,
    save_and_continue,
    signed_in,
    sources_cited,
    status_shown,
    success_message,
)
from .conftest import OpenTab

pytestmark = pytest.mark.django_db(transaction=True)

TREATY = "https://treaties.example.org/launch-notification/text.pdf"
STATEMENT = "https://www.example.org/statements/2024-04-02-launch-notification"


def test_a_curator_records_a_measure_citing_new_sources_by_url(
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
    event = add_event(tab, date="2024-05-01", kind="Signed")
    cite_by_url(tab, event, url=TREATY.replace("text.pdf", "text .pdf"), locator="art. 1")
    position = add_position(
        tab,
        date="2024-04-02",
        actor=usa,
        stance="Endorses",
        quote="We welcome advance notification of launches.",
    )
    cite_by_url(tab, position, url=STATEMENT, quote="We welcome advance notification of launches.")
    tab.shoot(
        "2-event-and-position-cited-by-url", at="#events-group", across=f"#id_{position}-cite_2"
    )
    save_and_continue(tab)

    # A mistyped address is refused with the reason, nothing is written and nothing typed is
    # lost: the curator corrects the address and saves again.
    assert "Please correct the error below." in tab.text(".errornote")
    assert tab.text(f"#{event} .field-cite .errorlist") == (
        "The URL contains spaces or control characters; escape them."
    )
    assert Measure.objects.count() == 0
    assert Source.objects.count() == 0
    assert tab.find("#id_title").get_attribute("value") == "Missile launch notification agreement"
    assert tab.find(f"#id_{position}-cite_0").get_attribute("value") == STATEMENT
    assert tab.find(f"#id_{event}-cite_1").get_attribute("value") == "art. 1"
    tab.shoot("3-mistyped-address-refused", at="#events-group", across=f"#id_{event}-cite_2")
    cite_by_url(tab, event, url=TREATY)
    url_before = tab.driver.current_url
    save_and_continue(tab)

    assert "was added successfully" in success_message(tab)
    assert tab.driver.current_url != url_before  # the new measure's own page, no popup on the way
    assert len(tab.driver.window_handles) == 1
    assert status_shown(tab) == "Signed"
    assert citations_of_row(tab, "events-0") == [f"{TREATY} · art. 1 [Not checked yet]"]
    assert citations_of_row(tab, "positions-0") == [f"{STATEMENT} [Not checked yet]"]
    assert sources_cited(tab) == [  # by address
        ["Not checked yet", TREATY, "treaties.example.org", "never"],
        ["Not checked yet", STATEMENT, "www.example.org", "never"],
    ]
    tab.shoot("4-sources-created-and-cited", at="#events-group", across="#id_positions-0-cite_2")

    measure = Measure.objects.get(slug="missile-launch-notification-agreement")
    assert sorted(measure.categories.values_list("code", flat=True)) == [
        "launch_notification",
        "transparency",
    ]
    (saved_event,) = measure.events.all()
    assert (saved_event.kind, saved_event.date.isoformat(), saved_event.actor) == (
        "signed",
        "2024-05-01",
        None,
    )
    assert [(c.source.url, c.locator) for c in saved_event.citations.all()] == [(TREATY, "art. 1")]
    (saved_position,) = measure.positions.all()
    assert (saved_position.actor, saved_position.stance) == (usa, "endorses")
    assert [(c.source.url, c.quote) for c in saved_position.citations.all()] == [
        (STATEMENT, "We welcome advance notification of launches.")
    ]
    assert Source.objects.count() == 2
    tab.shoot("5-derived-today", at=".field-status_today")
    tab.shoot("6-sources-cited", at=".field-source_health")
