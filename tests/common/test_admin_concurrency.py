"""Two curators editing the same row: the second save is refused with a clear message, keeps
what its curator typed and writes nothing; saving again after seeing it is a deliberate choice.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import models
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from common.admin_concurrency import VERSION_FIELD
from proposals.models import Event, Measure
from tests.factories import ActorFactory, EventFactory, MeasureFactory, SourceFactory
from tracker.models import Source

pytestmark = pytest.mark.django_db


def value(bound: Any) -> Any:
    data = bound.value()
    if isinstance(data, list | tuple):
        return [str(item.pk if isinstance(item, models.Model) else item) for item in data]
    if data is None:
        return ""
    if isinstance(data, bool):
        return "on" if data else ""
    return str(data)


def form_data(page: HttpResponse) -> dict[str, Any]:
    """What a browser would send back from a change page, nothing edited: every field of the
    form and of each inline formset, with the management forms."""
    assert page.status_code == 200
    context = page.context
    data: dict[str, Any] = {}
    form = context["adminform"].form
    for name in form.fields:
        data[form.add_prefix(name)] = value(form[name])
    for inline in context.get("inline_admin_formsets", []):  # none on a revert form
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = value(management[name])
        for inline_form in formset.forms:
            for name in inline_form.fields:
                data[inline_form.add_prefix(name)] = value(inline_form[name])
    return {key: item for key, item in data.items() if item not in ("", [])}


def curator(name: str) -> Client:
    user = User.objects.create_superuser(name, f"{name}@example.org", "pw-for-tests-only")
    client = Client()
    client.force_login(user)
    return client


def source_page(source: Source) -> str:
    return reverse("admin:tracker_source_change", args=[source.pk])


def test_the_second_save_of_a_source_is_refused_and_keeps_what_was_typed() -> None:
    source = SourceFactory(title="As entered")
    alice, bea = curator("alice"), curator("bea")
    alice_form = form_data(alice.get(source_page(source)))
    bea_form = form_data(bea.get(source_page(source)))
    assert alice_form[VERSION_FIELD] == bea_form[VERSION_FIELD]

    first = alice.post(source_page(source), {**alice_form, "title": "Alice's title"})
    assert first.status_code == 302
    history_rows = source.history.count()

    second = bea.post(source_page(source), {**bea_form, "title": "Bea's title"})

    html = second.content.decode()
    assert second.status_code == 200
    assert "alice saved a change to this source at " in html
    history_url = reverse("admin:tracker_source_history", args=[source.pk])
    assert f'<a href="{history_url}">view that change</a>' in html
    assert "Nothing was saved." in html
    assert 'value="Bea&#x27;s title"' in html  # what Bea typed is still in the form
    source.refresh_from_db()
    assert source.title == "Alice's title"
    assert source.history.count() == history_rows

    # Bea has seen the other change; saving again, from the page she got, replaces it.
    third = bea.post(source_page(source), form_data(second))
    assert third.status_code == 302
    source.refresh_from_db()
    assert source.title == "Bea's title"


def test_a_refresh_meanwhile_is_no_conflict() -> None:
    source = SourceFactory(title="As entered")
    bea = curator("bea")
    form = form_data(bea.get(source_page(source)))
    # What a refresh writes: its own read-only fields, by UPDATE.
    Source.objects.filter(pk=source.pk).update(
        health=Source.Health.BROKEN, fetched_title="Fetched", http_status=404
    )

    response = bea.post(source_page(source), {**form, "title": "Bea's title"})

    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.title, source.health) == ("Bea's title", Source.Health.BROKEN)


def test_a_form_without_a_version_is_saved_unchecked() -> None:
    source = SourceFactory(title="As entered")
    bea = curator("bea")
    form = form_data(bea.get(source_page(source)))
    del form[VERSION_FIELD]

    response = bea.post(source_page(source), {**form, "title": "Bea's title"})

    assert response.status_code == 302


def test_a_revert_from_the_history_is_shown_and_saved() -> None:
    """The history's revert form is a change form too: it shows the version and saves it."""
    event = EventFactory(kind=Event.Kind.SIGNED, date=datetime.date(2024, 3, 1))
    signed = event.history.get()
    Event.objects.filter(pk=event.pk).update(kind=Event.Kind.ENTERED_INTO_FORCE)
    bea = curator("bea")
    revert_page = reverse("admin:proposals_event_simple_history", args=[event.pk, signed.pk])

    page = bea.get(revert_page)

    assert page.status_code == 200
    form = page.context["adminform"].form
    assert form["kind"].value() == Event.Kind.SIGNED
    response = bea.post(revert_page, form_data(page))
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.kind == Event.Kind.SIGNED


# --- a page with inlines ----------------------------------------------------------------------


def measure_page(measure: Measure) -> str:
    return reverse("admin:proposals_measure_change", args=[measure.pk])


def test_a_change_to_an_inline_row_elsewhere_refuses_the_save() -> None:
    measure = MeasureFactory(title="Hotline")
    event = EventFactory(measure=measure, actor=ActorFactory(code="USA"))
    alice, bea = curator("alice"), curator("bea")
    bea_form = form_data(bea.get(measure_page(measure)))

    # Alice corrects the event's date on the event's own page.
    event_page = reverse("admin:proposals_event_change", args=[event.pk])
    alice_form = form_data(alice.get(event_page))
    assert alice.post(event_page, {**alice_form, "date": "2000-01-02"}).status_code == 302

    response = bea.post(measure_page(measure), {**bea_form, "title": "Hotline agreement"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "alice saved a change to this measure (one of its events) at " in html
    event_history = reverse("admin:proposals_event_history", args=[event.pk])
    assert f'<a href="{event_history}">view that change</a>' in html
    measure.refresh_from_db()
    assert measure.title == "Hotline"
    assert Event.objects.get(pk=event.pk).date == datetime.date(2000, 1, 2)


def test_an_inline_row_added_elsewhere_refuses_the_save_and_an_untouched_page_saves() -> None:
    measure = MeasureFactory(title="Hotline")
    bea = curator("bea")
    bea_form = form_data(bea.get(measure_page(measure)))
    untouched = form_data(bea.get(measure_page(measure)))
    assert bea_form[VERSION_FIELD] == untouched[VERSION_FIELD]

    EventFactory(measure=measure, actor=ActorFactory(code="RUS"))
    refused = bea.post(measure_page(measure), {**bea_form, "title": "Hotline agreement"})
    assert refused.status_code == 200
    assert "while you were editing it" in refused.content.decode()

    fresh = form_data(bea.get(measure_page(measure)))
    saved = bea.post(measure_page(measure), {**fresh, "title": "Hotline agreement"})
    assert saved.status_code == 302
    measure.refresh_from_db()
    assert measure.title == "Hotline agreement"
