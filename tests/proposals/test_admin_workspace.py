"""The measure's page as a curation workspace, through the admin's own forms: events and
positions with their citations (cited by URL), derived status and participations, timeline,
findings and source health; the fact pages that return to it; the widgets that need no JSON."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from common import palette
from proposals.models import Actor, Citation, Event, Measure
from tests.factories import (
    ActorFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
    SourceFactory,
)
from tracker.models import Source

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/proposals/measure/add/"


def measure_form(**extra: str) -> dict[str, Any]:
    """The measure form as the admin posts it, with no inline rows unless ``extra`` adds them."""
    form: dict[str, Any] = {
        "title": "Hotline between the capitals",
        "slug": "capital-hotline",
        "summary": "",
        "categories": ["hotline"],
        "form": "agreement",
        "scope": "bilateral",
        "venue": "",
        "parameters-rows": "0",
    }
    for prefix in ("party_rows", "events", "positions", "citations"):
        form[f"{prefix}-TOTAL_FORMS"] = "0"
        form[f"{prefix}-INITIAL_FORMS"] = "0"
    form.update(extra)
    return form


def one_event(url: str, **fields: str) -> dict[str, str]:
    return {
        "events-TOTAL_FORMS": "1",
        "events-0-date": "1963-08-30",
        "events-0-date_precision": "day",
        "events-0-kind": "entered_into_force",
        "events-0-certainty": "confirmed",
        "events-0-cite_0": url,
        "events-0-cite_1": "art. 1",
        "events-0-cite_2": "The link shall be operational.",
        **fields,
    }


def test_a_new_measure_with_an_event_cites_a_new_source_by_url(admin_client: Client) -> None:
    response = admin_client.post(
        ADD_URL, measure_form(**one_event("https://treaties.example.org/hotline-1963"))
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    measure = Measure.objects.get(slug="capital-hotline")
    event = measure.events.get()
    citation = event.citations.get()
    assert citation.source.url == "https://treaties.example.org/hotline-1963"
    assert (citation.locator, citation.quote) == ("art. 1", "The link shall be operational.")
    assert citation.history.get().history_user is not None  # the curator is its author
    assert measure.status == "in_force"
    shown = admin_client.get(response["Location"]).content.decode()
    assert "Derived today: status In force" in shown


def test_citing_a_known_source_in_another_spelling_reuses_it(admin_client: Client) -> None:
    known = SourceFactory(url="https://news.example.org/articles/7")
    spelled = "HTTPS://News.Example.org:443/articles/7?utm_source=mail"

    response = admin_client.post(ADD_URL, measure_form(**one_event(spelled)))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Source.objects.count() == 1
    event = Event.objects.get(measure__slug="capital-hotline")
    assert event.citations.get().source == known


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://treaties.example.org/file", "Only http and https URLs can be sources."),
        ("not a url", "The URL contains spaces"),
    ],
)
def test_a_bad_url_is_a_form_error_and_nothing_is_saved(
    admin_client: Client, url: str, message: str
) -> None:
    response = admin_client.post(ADD_URL, measure_form(**one_event(url)))

    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    # What was typed is shown again.
    assert 'value="Hotline between the capitals"' in page
    assert "The link shall be operational." in page
    assert not Measure.objects.exists()
    assert not Event.objects.exists()
    assert not Source.objects.exists()


def test_a_locator_without_a_url_asks_for_the_url(admin_client: Client) -> None:
    response = admin_client.post(ADD_URL, measure_form(**one_event("")))

    assert response.status_code == 200
    assert "Type the URL of the source being cited." in response.content.decode()
    assert not Measure.objects.exists()


def change_form(measure: Measure, **extra: str) -> dict[str, Any]:
    return measure_form(title=measure.title, slug=measure.slug, **extra)


def test_ticking_a_citation_removes_it_and_a_url_adds_one_on_an_existing_event(
    admin_client: Client,
) -> None:
    measure = MeasureFactory(categories=["hotline"])
    event = EventFactory(measure=measure, kind="signed", date=datetime.date(1963, 6, 20))
    old = Citation.objects.create(source=SourceFactory(), event=event, locator="p. 1")
    url = reverse("admin:proposals_measure_change", args=[measure.pk])
    form = change_form(
        measure,
        **{
            "events-TOTAL_FORMS": "1",
            "events-INITIAL_FORMS": "1",
            "events-0-id": str(event.pk),
            "events-0-measure": str(measure.pk),
            "events-0-date": "1963-06-20",
            "events-0-date_precision": "day",
            "events-0-kind": "signed",
            "events-0-certainty": "confirmed",
            "events-0-uncite": [str(old.pk)],
            "events-0-cite_0": "https://archive.example.org/memorandum",
            "events-0-cite_1": "",
            "events-0-cite_2": "",
        },
    )

    response = admin_client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert [c.source.url for c in event.citations.all()] == [
        "https://archive.example.org/memorandum"
    ]


def test_citing_the_same_source_and_locator_twice_is_refused(admin_client: Client) -> None:
    measure = MeasureFactory(categories=["hotline"])
    actor = ActorFactory(code="USA")
    position = PositionFactory(
        measure=measure, actor=actor, stance="endorses", date=datetime.date(2001, 5, 1)
    )
    source = SourceFactory(url="https://gov.example.org/statement")
    Citation.objects.create(source=source, position=position, locator="para. 2")
    url = reverse("admin:proposals_measure_change", args=[measure.pk])
    form = change_form(
        measure,
        **{
            "positions-TOTAL_FORMS": "1",
            "positions-INITIAL_FORMS": "1",
            "positions-0-id": str(position.pk),
            "positions-0-measure": str(measure.pk),
            "positions-0-date": "2001-05-01",
            "positions-0-date_precision": "day",
            "positions-0-actor": str(actor.pk),
            "positions-0-stance": "opposes",
            "positions-0-quote": "",
            "positions-0-cite_0": "https://GOV.example.org/statement#top",
            "positions-0-cite_1": "para. 2",
            "positions-0-cite_2": "",
        },
    )

    response = admin_client.post(url, form)

    assert response.status_code == 200
    assert "This source is already cited here at this locator." in response.content.decode()
    position.refresh_from_db()
    assert position.stance == "endorses"  # the row's own change is not saved either
    assert position.citations.count() == 1


@pytest.mark.parametrize(
    ("kind", "query", "button", "lands_on"),
    [
        ("event", "?from_measure=1", "_save", "measure"),
        ("position", "?from_measure=1", "_save", "measure"),
        ("event", "", "_save", "list"),
        ("position", "?from_measure=1", "_continue", "itself"),
    ],
)
def test_a_fact_opened_from_its_measure_returns_there_when_saved(
    admin_client: Client, kind: str, query: str, button: str, lands_on: str
) -> None:
    measure = MeasureFactory(categories=["hotline"])
    actor = ActorFactory(code="USA")
    prefix = "citations"
    if kind == "event":
        fact: Any = EventFactory(
            measure=measure, actor=actor, kind="signed", date=datetime.date(1990, 1, 2)
        )
        fields = {"kind": "signed", "scope_note": "", "description": ""}
    else:
        fact = PositionFactory(
            measure=measure, actor=actor, stance="endorses", date=datetime.date(1990, 1, 2)
        )
        fields = {"stance": "opposes", "quote": ""}
    change = reverse(f"admin:proposals_{kind}_change", args=[fact.pk])
    form = {
        "measure": str(measure.pk),
        "actor": str(actor.pk),
        "date": "1990-01-02",
        "date_precision": "day",
        "certainty": "confirmed",
        f"{prefix}-TOTAL_FORMS": "0",
        f"{prefix}-INITIAL_FORMS": "0",
        button: "Save",
        **fields,
    }

    page = admin_client.get(reverse("admin:proposals_measure_change", args=[measure.pk]))
    assert f'href="{change}?from_measure=1"' in page.content.decode()
    response = admin_client.post(change + query, form)

    assert response.status_code == 302, response.content.decode()[:3000]
    expected = {
        "measure": reverse("admin:proposals_measure_change", args=[measure.pk]),
        "list": reverse(f"admin:proposals_{kind}_changelist"),
        "itself": f"{change}?from_measure=1",
    }[lands_on]
    assert response["Location"] == expected


def test_the_measure_page_shows_what_is_derived_drawn_found_and_cited(
    admin_client: Client,
) -> None:
    measure = MeasureFactory(title="Hotline", categories=["hotline"], scope="multilateral")
    usa, sun = ActorFactory(code="USA"), ActorFactory(code="SUN")
    measure.parties.set([usa, sun])
    event = EventFactory(
        measure=measure, kind="entered_into_force", date=datetime.date(1963, 8, 30)
    )
    EventFactory(
        measure=measure,
        actor=sun,
        kind="suspended",
        date=datetime.date(1990, 5, 1),
        date_precision="month",
    )
    broken = SourceFactory(url="https://gone.example.org/page", health="broken")
    Citation.objects.create(source=broken, event=event)

    page = admin_client.get(reverse("admin:proposals_measure_change", args=[measure.pk]))
    html = page.content.decode()

    assert page.status_code == 200
    # Status and participations, as the rules derive them (the suspension's month is past).
    assert ">In force</span>" in html
    assert (
        f'>USA State USA</td><td><span class="tracker-badge" style="background-color:'
        f"{palette.PARTICIPATION['party']}" in html.replace("\n", "")
    )
    assert f'{palette.PARTICIPATION["suspended"]};color:#000000">Suspended</span>' in html
    # The timeline picture with its text alternative.
    assert f'src="/api/v1/measures/{measure.slug}/timeline.svg"' in html
    assert 'alt="Timeline of Hotline: 2 events from 1963-08-30 to 1990-05-01' in html
    events_list = f"/admin/proposals/event/?measure={measure.pk}"
    assert f'href="{events_list}"' in html
    listed = admin_client.get(events_list)
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 2
    # Findings: the suspension cites nothing.
    assert "Fact with no citation" in html
    # The cited source, with its health as a label on its colour and a link to its page.
    assert (
        f'background-color:{palette.HEALTH["broken"]};color:#FFFFFF">Broken (repeatedly gone)'
        in html
    )
    assert reverse("admin:tracker_source_change", args=[broken.pk]) in html


def test_the_timeline_of_one_event_is_described_as_one_event(admin_client: Client) -> None:
    measure = MeasureFactory(title="Hotline")
    EventFactory(measure=measure, kind="signed", date=datetime.date(1963, 6, 20))

    html = admin_client.get(
        reverse("admin:proposals_measure_change", args=[measure.pk])
    ).content.decode()

    assert 'alt="Timeline of Hotline: 1 event, on 1963-06-20, one lane per actor' in html
    assert ">the event, as a list</a>" in html
    assert "1 events" not in html


def test_the_lists_show_status_badges_and_counts(admin_client: Client) -> None:
    measure = MeasureFactory(categories=["hotline"])
    EventFactory(measure=measure, kind="entered_into_force", date=datetime.date(1963, 8, 30))
    PositionFactory(measure=measure, actor=ActorFactory(code="USA"), stance="opposes")
    measure.refresh_from_db()

    html = admin_client.get(reverse("admin:proposals_measure_changelist")).content.decode()

    assert f"background-color:{palette.PARTICIPATION['party']}" in html
    assert ">In force</span>" in html
    assert '<td class="field-event_count">1</td>' in html
    assert '<td class="field-position_count">1</td>' in html
    positions = admin_client.get(reverse("admin:proposals_position_changelist")).content.decode()
    assert f"background-color:{palette.STANCE['opposes']}" in positions
    assert '<td class="field-citation_count">0</td>' in positions


# --- widgets that need no JSON -----------------------------------------------------------------


def actor_form(**fields: str) -> dict[str, str]:
    return {"kind": "state", "country": "", "code": "", "name": "", "aliases": "", **fields}


def test_aliases_are_one_name_per_line_and_come_back_so(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/proposals/actor/add/",
        actor_form(
            country="MNG", name="Mongolia", aliases="Mongol Uls\n  \nMongolian People's Republic\n"
        ),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    actor = Actor.objects.get(code="MNG")
    assert actor.aliases == ["Mongol Uls", "Mongolian People's Republic"]
    page = admin_client.get(reverse("admin:proposals_actor_change", args=[actor.pk]))
    assert "Mongol Uls\nMongolian People&#x27;s Republic</textarea>" in page.content.decode()


@pytest.mark.parametrize(
    ("fields", "code", "error"),
    [
        ({"country": "MNG"}, "MNG", None),
        ({"country": "SUN"}, "SUN", None),  # a former state, ISO 3166-3
        ({"kind": "organization", "code": "nato"}, "NATO", None),
        ({"country": ""}, None, "Pick the state&#x27;s country."),
        ({"country": "ZZZ"}, None, "Select a valid choice."),
        ({"kind": "organization", "code": ""}, None, "Type the organization&#x27;s code"),
        ({"kind": "organization", "code": "1X"}, None, "is not an organization&#x27;s code"),
    ],
)
def test_a_state_is_picked_from_the_countries_an_organization_typed(
    admin_client: Client, fields: dict[str, str], code: str | None, error: str | None
) -> None:
    response = admin_client.post("/admin/proposals/actor/add/", actor_form(name="X", **fields))

    if error is None:
        assert response.status_code == 302, response.content.decode()[:3000]
        assert Actor.objects.filter(code=code).exists()
    else:
        assert response.status_code == 200
        assert error in response.content.decode()
        assert not Actor.objects.exists()


def test_the_country_picker_shows_the_states_by_name(admin_client: Client) -> None:
    actor = ActorFactory(code="SUN", name="Soviet Union")
    html = admin_client.get(
        reverse("admin:proposals_actor_change", args=[actor.pk])
    ).content.decode()
    assert '<option value="SUN" selected>Union of Soviet Socialist Republics (SUN)</option>' in html
    assert '<option value="MNG">Mongolia (MNG)</option>' in html


def test_parameters_are_rows_of_name_and_value(admin_client: Client) -> None:
    measure = MeasureFactory(categories=["hotline"], parameters={"old": 1})
    url = reverse("admin:proposals_measure_change", args=[measure.pk])
    rows = {
        "parameters-rows": "4",
        "parameters-0-key": "range_km",
        "parameters-0-value": "[500, 5500]",
        "parameters-1-key": "note",
        "parameters-1-value": "Mongol Uls",
        "parameters-2-key": "code",
        "parameters-2-value": '"500"',
        "parameters-3-key": "",
        "parameters-3-value": "",
    }

    response = admin_client.post(url, change_form(measure, **rows))

    assert response.status_code == 302, response.content.decode()[:3000]
    measure.refresh_from_db()
    assert measure.parameters == {"range_km": [500, 5500], "note": "Mongol Uls", "code": "500"}
    html = admin_client.get(url).content.decode()
    # Row by row as stored (PostgreSQL keeps an object's keys in an order of its own).
    keys = dict(re.findall(r'name="parameters-(\d+)-key" value="([^"]*)"', html))
    values = dict(re.findall(r'name="parameters-(\d+)-value" value="([^"]*)"', html))
    shown = {keys[i]: values[i] for i in keys if keys[i]}
    assert shown == {"range_km": "[500, 5500]", "note": "Mongol Uls", "code": "&quot;500&quot;"}


def test_a_value_without_a_name_is_a_form_error_shown_as_typed(admin_client: Client) -> None:
    measure = MeasureFactory(categories=["hotline"], parameters={"old": 1})
    url = reverse("admin:proposals_measure_change", args=[measure.pk])
    rows = {"parameters-rows": "1", "parameters-0-key": "", "parameters-0-value": "500 km"}

    response = admin_client.post(url, change_form(measure, **rows))

    assert response.status_code == 200
    html = response.content.decode()
    assert "The value &#x27;500 km&#x27; needs a name." in html
    assert 'value="500 km"' in html
    measure.refresh_from_db()
    assert measure.parameters == {"old": 1}
