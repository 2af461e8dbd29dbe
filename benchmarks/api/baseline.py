"""The yardstick: a plain Django view that returns the same JSON as the first page of
``GET /api/v1/measures/``, written the shortest fast way a Django developer would write it.

No DRF, no filters, no conditional requests: ``.values()`` queries, dicts, ``orjson``. It shares
nothing with ``proposals.api`` except the status rules of ``proposals.status``, which define what
the values are. ``run.py`` checks that both responses are byte for byte the same before timing.

Queries: the count, the page of measures, their categories, their events, their positions, the
actors' successor map.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any

import orjson
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from proposals import status as rules
from proposals.models import Actor, Event, Measure, Position

PAGE_SIZE = 50
API_PATH = "/api/v1/measures/"


def measure_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    base = request.build_absolute_uri(API_PATH)

    count = Measure.objects.count()
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
            actor_code=F("actor__code"),
        )
    ):
        positions[p["measure_id"]].append(p)

    successor_of = dict(
        Actor.objects.filter(successor__isnull=False).values_list("code", "successor__code")
    )

    results = []
    for m in measures:
        facts = [
            rules.EventFact(e["kind"], e["date"], e["actor_code"], e["id"]) for e in events[m["id"]]
        ]
        status = rules.measure_status(facts, on=today)
        participations = rules.participations(facts, on=today, successor_of=successor_of)
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
                "parameters": m["parameters"],
                "status": status.value if status else None,
                "status_on": today.isoformat(),
                "participations": {
                    code: participations[code].value for code in sorted(participations)
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
                "current_positions": _latest_per_actor(positions[m["id"]], today),
                "created_at": _utc(m["created_at"]),
                "updated_at": _utc(m["updated_at"]),
            }
        )

    body = {
        "count": count,
        "next": f"{base}?page=2" if count > PAGE_SIZE else None,
        "previous": None,
        "results": results,
    }
    return HttpResponse(orjson.dumps(body), content_type="application/json")


def _latest_per_actor(
    positions: list[dict[str, Any]], today: datetime.date
) -> list[dict[str, Any]]:
    """Each actor's latest position up to today, with the first day of its current stance."""
    latest: dict[str, dict[str, Any]] = {}
    since: dict[str, datetime.date] = {}
    for p in positions:  # oldest first
        if p["date"] > today:
            continue
        actor = p["actor_code"]
        previous = latest.get(actor)
        if previous is None or previous["stance"] != p["stance"]:
            since[actor] = p["date"]
        latest[actor] = p
    return [
        {
            "id": p["id"],
            "actor": actor,
            "stance": p["stance"],
            "date": p["date"].isoformat(),
            "date_precision": p["date_precision"],
            "quote": p["quote"],
            "since": since[actor].isoformat(),
        }
        for actor, p in sorted(latest.items())
    ]


def _utc(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
