"""The yardstick: a plain Django view that returns the same JSON as the first page of
``GET /api/v1/measures/``, written the shortest fast way a Django developer would write it.

No DRF, no filters, no conditional requests: ``.values()`` queries, dicts, ``orjson``. It shares
nothing with ``proposals.api`` except the rules of ``proposals.status`` (status, participation
and stance on a day, each certain or with its possible values and basis), which define what the
values are. ``run.py`` checks that both responses are byte for byte the same before timing.

Queries: the count, the page of measures, their categories, their events, their positions, their
named parties, the actors' successor map.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any

import orjson
from django.conf import settings
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from proposals import status as rules
from proposals.models import Actor, Event, Measure, MeasureParty, Position

PAGE_SIZE = 50
API_PATH = "/api/v1/measures/"


def measure_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    base = request.build_absolute_uri(API_PATH)

    # Counted as the API counts: no further than one past the limit, and no number beyond it.
    limit = settings.TRACKER_API_EXACT_COUNT_LIMIT
    counted = Measure.objects.order_by().values("pk")[: limit + 1].count()
    count = counted if counted <= limit else None
    measures = list(
        Measure.objects.order_by("slug").values(
            "id",
            "slug",
            "title",
            "summary",
            "form",
            "scope",
            "venue",
            "parameters",
            "created_at",
            "updated_at",
            parent_slug=F("parent__slug"),
        )[:PAGE_SIZE]
    )
    ids = [m["id"] for m in measures]

    categories: dict[int, list[str]] = defaultdict(list)
    for measure_id, code in (
        Measure.categories.through.objects.filter(measure_id__in=ids)
        .order_by("category_id")
        .values_list("measure_id", "category_id")
    ):
        categories[measure_id].append(code)

    events: dict[int, list[Any]] = defaultdict(list)
    for e in (
        Event.objects.filter(measure_id__in=ids)
        .order_by("date", "id")
        .values(
            "id",
            "measure_id",
            "kind",
            "date",
            "date_precision",
            "scope_note",
            "certainty",
            actor_code=F("actor__code"),
        )
    ):
        events[e["measure_id"]].append(e)

    positions: dict[int, list[Any]] = defaultdict(list)
    for p in (
        Position.objects.filter(measure_id__in=ids)
        .order_by("date", "id")
        .values(
            "id",
            "measure_id",
            "stance",
            "date",
            "date_precision",
            "quote",
            "certainty",
            actor_code=F("actor__code"),
        )
    ):
        positions[p["measure_id"]].append(p)

    parties: dict[int, list[str]] = defaultdict(list)
    for measure_id, code in (
        MeasureParty.objects.filter(measure_id__in=ids)
        .order_by("actor__code")
        .values_list("measure_id", "actor__code")
    ):
        parties[measure_id].append(code)

    successor_of = dict(
        Actor.objects.filter(successor__isnull=False).values_list("code", "successor__code")
    )

    results = []
    for m in measures:
        facts = [
            rules.EventFact(
                e["kind"], e["date"], e["actor_code"], e["id"], e["date_precision"], e["certainty"]
            )
            for e in events[m["id"]]
        ]
        named = rules.MeasureFacts(m["scope"], frozenset(parties[m["id"]]))
        status = rules.status_on(facts, on=today, measure=named, successor_of=successor_of)
        participations = rules.participations_on(
            facts, on=today, successor_of=successor_of, measure=named
        )
        results.append(
            {
                "slug": m["slug"],
                "url": f"{base}{m['slug']}/",
                "title": m["title"],
                "summary": m["summary"],
                "categories": categories[m["id"]],
                "form": m["form"],
                "scope": m["scope"],
                "venue": m["venue"],
                "parent": m["parent_slug"],
                "parties": parties[m["id"]],
                "parameters": m["parameters"],
                "status": status.value,
                "status_certain": status.certain,
                "status_possible": list(status.possible),
                "status_basis": status.basis,
                "status_on": today.isoformat(),
                "participations": {
                    code: {
                        "participation": answer.value,
                        "certain": answer.certain,
                        "possible": list(answer.possible),
                        "basis": answer.basis,
                    }
                    for code, answer in participations.items()  # sorted by code
                },
                "events": [
                    {
                        "id": e["id"],
                        "kind": e["kind"],
                        "date": e["date"].isoformat(),
                        "date_precision": e["date_precision"],
                        "actor": e["actor_code"],
                        "scope_note": e["scope_note"],
                        "certainty": e["certainty"],
                    }
                    for e in events[m["id"]]
                ],
                "current_positions": _current_positions(positions[m["id"]], today),
                "created_at": _utc(m["created_at"]),
                "updated_at": _utc(m["updated_at"]),
            }
        )

    body = {
        "count": count,
        "count_at_least": counted if count is not None else max(counted, PAGE_SIZE + 1),
        "next": f"{base}?page=2" if counted > PAGE_SIZE else None,
        "previous": None,
        "results": results,
    }
    return HttpResponse(orjson.dumps(body), content_type="application/json")


def _current_positions(
    positions: list[dict[str, Any]], today: datetime.date
) -> list[dict[str, Any]]:
    """Each actor's latest position that may count today, with its stance answer and the first
    day of the unbroken run of that stance (null while the stance is uncertain)."""
    taken: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in positions:  # oldest first
        if p["date"] <= today:
            taken[p["actor_code"]].append(p)
    current = []
    for actor in sorted(taken):
        history = taken[actor]
        stance = rules.stance_on(
            (
                rules.PositionFact(
                    p["stance"], p["date"], p["id"], p["date_precision"], p["certainty"]
                )
                for p in history
            ),
            on=today,
        )
        latest = history[-1]
        since = None
        if stance.certain:
            since = latest["date"]
            for earlier in reversed(history[:-1]):
                if earlier["stance"] != latest["stance"]:
                    break
                since = earlier["date"]
        current.append(
            {
                "id": latest["id"],
                "actor": actor,
                "stance": stance.value,
                "date": latest["date"].isoformat(),
                "date_precision": latest["date_precision"],
                "quote": latest["quote"],
                "certainty": latest["certainty"],
                "certain": stance.certain,
                "stance_possible": list(stance.possible),
                "basis": stance.basis,
                "since": since.isoformat() if since else None,
            }
        )
    return current


def _utc(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
