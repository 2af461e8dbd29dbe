"""Writes that span models or have side effects. Every function is keyword-only, atomic, and
leaves the stored status equal to the derived one.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from proposals.models import Event, Measure, event_facts
from proposals.status import measure_status


def measures_with_events() -> Prefetch[Event]:
    # One query for every event (with its actor) of every measure being recomputed.
    return Prefetch("events", queryset=Event.objects.select_related("actor"))


@transaction.atomic
def measure_recompute_status(*, measure: Measure, on: datetime.date | None = None) -> bool:
    """Store the status derived from the measure's events. Returns whether it changed."""
    today = on or timezone.localdate()
    derived = measure_status(event_facts(measure.events.select_related("actor")), on=today)
    return _store_status(measure=measure, derived=derived.value if derived else "", on=today)


def measures_recompute_statuses(*, on: datetime.date | None = None) -> int:
    """Recompute every measure (the daily job: scheduled events take effect). Returns changes."""
    today = on or timezone.localdate()
    changed = 0
    measures = Measure.objects.prefetch_related(measures_with_events()).order_by("pk")
    for measure in measures.iterator(chunk_size=500):
        derived = measure_status(event_facts(measure.events.all()), on=today)
        with transaction.atomic():
            changed += _store_status(
                measure=measure, derived=derived.value if derived else "", on=today
            )
    return changed


def _store_status(*, measure: Measure, derived: str, on: datetime.date) -> bool:
    if measure.status == derived:
        if measure.status_computed_on != on:
            # Bookkeeping only: not a content change, so no history row and no updated_at.
            Measure.objects.filter(pk=measure.pk).update(status_computed_on=on)
            measure.status_computed_on = on
        return False
    measure.status = derived
    measure.status_computed_on = on
    measure.save(update_fields=["status", "status_computed_on", "updated_at"])
    return True
