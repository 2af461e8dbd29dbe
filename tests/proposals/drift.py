"""The one check of the drift tests: what is stored (status, participations, involvement) equals
what the rules derive. Besides ``proposals.derived.drifted()`` (what ``recompute_statuses
--check`` reports), participations and involvement are derived here without the code that
stores them: participations measure by measure (``Measure.participations_on``), involvement
from the events, positions and named parties themselves."""

from __future__ import annotations

from proposals import derived
from proposals.models import (
    Event,
    Measure,
    MeasureInvolvement,
    MeasureParticipation,
    MeasureParty,
    Position,
)


def stored_participations() -> dict[tuple[str, str], str]:
    """``{(slug, actor code): value}``: the value when certain, else ``a|b`` (``none``)."""
    rows = MeasureParticipation.objects.values_list(
        "measure__slug", "actor__code", "participation", "possible"
    )
    return {
        (slug, code): value or "|".join(possible.strip(",").split(","))
        for slug, code, value, possible in rows
    }


def participations_by_the_rules() -> dict[tuple[str, str], str]:
    """The same, derived from the events today, measure by measure."""
    result = {}
    for measure in Measure.objects.all():
        for code, answer in measure.participations_on().items():
            values = [str(value) if value else "none" for value in answer.possible]
            result[(measure.slug, code)] = "|".join(values)
    return result


def stored_involvement() -> set[tuple[str, str]]:
    """``{(slug, actor code)}`` of the stored involvement rows."""
    return set(MeasureInvolvement.objects.values_list("measure__slug", "actor__code"))


def involvement_by_the_facts() -> set[tuple[str, str]]:
    """The same, from who acted on, took a position on or is a named party of each measure."""
    pairs: set[tuple[str, str]] = set()
    for rows in (
        Event.objects.filter(actor__isnull=False),
        Position.objects.all(),
        MeasureParty.objects.all(),
    ):
        pairs |= set(rows.values_list("measure__slug", "actor__code"))
    return pairs


def assert_no_drift() -> dict[tuple[str, str], str]:
    """Every stored answer is the derived one; returns the stored participations."""
    assert derived.drifted() == []
    rows = stored_participations()
    assert rows == participations_by_the_rules()
    assert stored_involvement() == involvement_by_the_facts()
    return rows


def event_form(event: Event, **changes: object) -> dict[str, object]:
    """The admin form of ``event`` as a curator posts it, with ``changes``."""
    form: dict[str, object] = {
        "measure": event.measure_id,
        "kind": event.kind,
        "date": event.date.isoformat(),
        "date_precision": event.date_precision,
        "actor": event.actor_id or "",
        "scope_note": event.scope_note,
        "certainty": event.certainty,
        "description": event.description,
        "citations-TOTAL_FORMS": "0",
        "citations-INITIAL_FORMS": "0",
    }
    form.update(changes)
    return form
