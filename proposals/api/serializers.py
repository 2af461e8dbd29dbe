"""What the API reads and accepts.

**Reads** are built by hand from rows loaded in a fixed number of queries (``.values()`` for the
measures list, the hot path; ``with_related()`` instances elsewhere) and returned as plain dicts:
no per-field serializer machinery on the way out. The ``…Serializer`` classes below describe
those dicts for the OpenAPI schema and the browsable API; a test holds every real response to
its schema, so the two cannot drift apart.

**Writes** are validated by the ``…Input`` serializers (field-level 400s) and carried out by
``proposals.services``; the response of a write is the object's read representation.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

from proposals import status as rules
from proposals.models import (
    Actor,
    Category,
    Certainty,
    Citation,
    DatePrecision,
    Event,
    Measure,
    MeasureParty,
    Position,
    lineage,
    rule_inputs,
)
from tracker.models import Source, SourceCheck


def iso(value: datetime.date | datetime.datetime | None) -> str | None:
    """Dates as ``YYYY-MM-DD``, date-times as RFC 3339 in UTC with ``Z``: the same in every
    renderer (JSON, CSV, the browsable API) and in the ETag."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def _base_url(request: Request | None, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


# === reads: measures =============================================================================

MEASURE_ROW_FIELDS = (
    "id",
    "slug",
    "title",
    "summary",
    "form",
    "scope",
    "venue",
    "parameters",
    "status",
    "created_at",
    "updated_at",
)


def measure_rows(measures: QuerySet[Measure]) -> QuerySet[Measure, dict[str, Any]]:
    """The measures' own columns as dicts; the parent's slug comes with them by a join."""
    return measures.values(*MEASURE_ROW_FIELDS, parent_slug=F("parent__slug"))


def _citation_rows(condition: Q) -> list[Any]:
    return list(
        Citation.objects.filter(condition)
        .order_by("id")
        .values(
            "id",
            "measure_id",
            "event_id",
            "position_id",
            "quote",
            "locator",
            "source_id",
            source_url=F("source__url"),
            source_title=F("source__title"),
            source_fetched_title=F("source__fetched_title"),
            source_publisher=F("source__publisher"),
            source_kind=F("source__kind"),
            source_is_primary=F("source__is_primary"),
            source_health=F("source__health"),
            source_archived_url=F("source__archived_url"),
        )
    )


def _cited(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "source": {
            "id": row["source_id"],
            "url": row["source_url"],
            "title": row["source_title"] or row["source_fetched_title"],
            "publisher": row["source_publisher"],
            "kind": row["source_kind"],
            "is_primary": row["source_is_primary"],
            "health": row["source_health"],
            "archived_url": row["source_archived_url"],
        },
        "quote": row["quote"],
        "locator": row["locator"],
    }


def current_positions(
    positions: Sequence[dict[str, Any]], *, on: datetime.date
) -> list[dict[str, Any]]:
    """Each actor's current position on ``on`` (rows sorted by date, then id): the latest one
    that may count that day, with the stance answer of ``proposals.status.stance_on`` and
    ``since``, the first day of the unbroken run of that stance (``None`` while uncertain)."""
    by_actor: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in positions:
        if row["date"] <= on:
            by_actor[row["actor_code"]].append(row)
    result = []
    for history in by_actor.values():
        answer = rules.stance_on(
            (
                rules.PositionFact(
                    r["stance"], r["date"], r["id"], r["date_precision"], r["certainty"]
                )
                for r in history
            ),
            on=on,
        )
        latest = history[-1]
        since = None
        if answer.certain:
            since = latest["date"]
            for earlier in reversed(history[:-1]):
                if earlier["stance"] != latest["stance"]:
                    break
                since = earlier["date"]
        result.append({**latest, "since": since, "answer": answer})
    result.sort(key=lambda row: row["actor_code"])
    return result


class MeasureReader:
    """Builds measure representations from rows, for one request's ``as_of`` day.

    Queries, whatever the number of measures: categories, events, positions, the actors'
    successor map and (details only) citations.
    """

    def __init__(self, request: Request | None, *, as_of: datetime.date | None) -> None:
        self.request = request
        self.as_of = as_of
        self.on = as_of or timezone.localdate()
        self.base = _base_url(request, "/api/v1/measures/")

    def many(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        return self._build(rows, detail=False)

    def one(self, row: Any) -> dict[str, Any]:
        return self._build([row], detail=True)[0]

    def _build(self, rows: Sequence[dict[str, Any]], *, detail: bool) -> list[dict[str, Any]]:
        ids = [row["id"] for row in rows]
        if not ids:
            return []
        categories: dict[int, list[str]] = defaultdict(list)
        through = Measure.categories.through.objects.filter(measure_id__in=ids)
        for measure_id, code in through.order_by("category_id").values_list(
            "measure_id", "category_id"
        ):
            categories[measure_id].append(code)

        events = Event.objects.filter(measure_id__in=ids)
        positions = Position.objects.filter(measure_id__in=ids)
        if self.as_of is not None:
            events, positions = (
                events.filter(date__lte=self.as_of),
                positions.filter(date__lte=self.as_of),
            )
        event_fields = ["id", "measure_id", "kind", "date", "date_precision", "scope_note"]
        event_fields += ["certainty", "description"] if detail else ["certainty"]
        events_of: dict[int, list[Any]] = defaultdict(list)
        for event in events.order_by("date", "id").values(
            *event_fields, actor_code=F("actor__code")
        ):
            events_of[event["measure_id"]].append(event)
        positions_of: dict[int, list[Any]] = defaultdict(list)
        for position in positions.order_by("date", "id").values(
            "id",
            "measure_id",
            "stance",
            "date",
            "date_precision",
            "quote",
            "certainty",
            actor_code=F("actor__code"),
        ):
            positions_of[position["measure_id"]].append(position)
        parties: dict[int, list[str]] = defaultdict(list)
        named = MeasureParty.objects.filter(measure_id__in=ids).order_by("actor__code")
        for measure_id, code in named.values_list("measure_id", "actor__code"):
            parties[measure_id].append(code)
        successor_of = Actor.objects.successor_map()

        cited: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        if detail:
            condition = (
                Q(measure_id__in=ids)
                | Q(event__measure_id__in=ids)
                | Q(position__measure_id__in=ids)
            )
            for citation in _citation_rows(condition):
                for target in ("measure", "event", "position"):
                    if citation[f"{target}_id"] is not None:
                        cited[(target, citation[f"{target}_id"])].append(_cited(citation))

        result = []
        for row in rows:
            measure_events = events_of[row["id"]]
            facts = [
                rules.EventFact(
                    e["kind"],
                    e["date"],
                    e["actor_code"],
                    e["id"],
                    e["date_precision"],
                    e["certainty"],
                )
                for e in measure_events
            ]
            measure = rules.MeasureFacts(row["scope"], frozenset(parties[row["id"]]))
            status = rules.status_on(facts, on=self.on, measure=measure, successor_of=successor_of)
            item: dict[str, Any] = {
                "slug": row["slug"],
                "url": f"{self.base}{row['slug']}/",
                "title": row["title"],
                "summary": row["summary"],
                "categories": categories[row["id"]],
                "form": row["form"],
                "scope": row["scope"],
                "venue": row["venue"],
                "parent": row["parent_slug"],
                "parties": parties[row["id"]],
                "parameters": row["parameters"],
                "status": status.value,
                "status_certain": status.certain,
                "status_possible": list(status.possible),
                "status_basis": status.basis,
                "status_on": self.on.isoformat(),
                "participations": {
                    code: answer.as_dict("participation")
                    for code, answer in rules.participations_on(
                        facts, on=self.on, successor_of=successor_of, measure=measure
                    ).items()
                },
                "events": [self._event(e, cited, detail) for e in measure_events],
                "current_positions": [
                    self._position(p, cited, detail, current=True)
                    for p in current_positions(positions_of[row["id"]], on=self.on)
                ],
            }
            if detail:
                item["positions"] = [
                    self._position(p, cited, detail, current=False) for p in positions_of[row["id"]]
                ]
                item["citations"] = cited[("measure", row["id"])]
            item["created_at"] = iso(row["created_at"])
            item["updated_at"] = iso(row["updated_at"])
            result.append(item)
        return result

    @staticmethod
    def _event(
        row: dict[str, Any], cited: dict[tuple[str, int], list[dict[str, Any]]], detail: bool
    ) -> dict[str, Any]:
        item = {
            "id": row["id"],
            "kind": row["kind"],
            "date": row["date"].isoformat(),
            "date_precision": row["date_precision"],
            "actor": row["actor_code"],
            "scope_note": row["scope_note"],
            "certainty": row["certainty"],
        }
        if detail:
            item["description"] = row["description"]
            item["citations"] = cited[("event", row["id"])]
        return item

    @staticmethod
    def _position(
        row: dict[str, Any],
        cited: dict[tuple[str, int], list[dict[str, Any]]],
        detail: bool,
        *,
        current: bool,
    ) -> dict[str, Any]:
        item = {
            "id": row["id"],
            "actor": row["actor_code"],
            "stance": row["stance"],
            "date": row["date"].isoformat(),
            "date_precision": row["date_precision"],
            "quote": row["quote"],
            "certainty": row["certainty"],
        }
        if current:
            answer = row["answer"]
            item["stance"] = answer.value
            item["certain"] = answer.certain
            item["stance_possible"] = list(answer.possible)
            item["basis"] = answer.basis
            item["since"] = iso(row["since"])
        if detail:
            item["citations"] = cited[("position", row["id"])]
        return item


# === reads: the other resources ==================================================================


def _citations(citations: Iterable[Citation]) -> list[dict[str, Any]]:
    return [
        {
            "id": c.pk,
            "source": {
                "id": c.source.pk,
                "url": c.source.url,
                "title": c.source.display_title,
                "publisher": c.source.publisher,
                "kind": c.source.kind,
                "is_primary": c.source.is_primary,
                "health": c.source.health,
                "archived_url": c.source.archived_url,
            },
            "quote": c.quote,
            "locator": c.locator,
        }
        for c in citations
    ]


def actor_representation(actor: Actor, request: Request | None) -> dict[str, Any]:
    return {
        "code": actor.code,
        "url": _base_url(request, f"/api/v1/actors/{actor.code}/"),
        "name": actor.name,
        "kind": actor.kind,
        "aliases": actor.aliases,
        "successor": actor.successor.code if actor.successor else None,
        "created_at": iso(actor.created_at),
        "updated_at": iso(actor.updated_at),
    }


def actor_detail_representation(
    actor: Actor, request: Request | None, *, as_of: datetime.date | None
) -> dict[str, Any]:
    """The actor with every position it took, its current stance on each measure and its
    participation in every measure, on ``as_of`` (today by default), each answer certain or
    given as its possible values. Seven queries besides the actor's."""
    on = as_of or timezone.localdate()
    successor_of = Actor.objects.successor_map()
    codes = lineage(actor.code, successor_of)
    positions = list(
        Position.objects.filter(actor=actor, date__lte=on)
        .order_by("date", "id")
        .values(
            "id",
            "stance",
            "date",
            "date_precision",
            "quote",
            "certainty",
            "measure_id",
            measure_slug=F("measure__slug"),
            actor_code=F("actor__code"),
        )
    )
    current = [
        row
        for measure_positions in _group(positions, "measure_id").values()
        for row in current_positions(measure_positions, on=on)
    ]
    # Measures it acted on or is a named party of (itself or a predecessor).
    involved = Measure.objects.filter(
        Q(events__actor__code__in=codes, events__date__lte=on)
        | Q(party_rows__actor__code__in=codes)
    ).values("pk")
    slugs = dict(Measure.objects.filter(pk__in=involved).values_list("pk", "slug"))
    participations = []
    for measure_id, (facts, measure) in rule_inputs(slugs.keys(), before=on).items():
        answer = rules.participations_on(
            facts, on=on, successor_of=successor_of, measure=measure
        ).get(actor.code)
        if answer is not None:
            participations.append({"measure": slugs[measure_id], **answer.as_dict("participation")})
    participations.sort(key=lambda item: str(item["measure"]))
    return {
        **actor_representation(actor, request),
        "predecessors": sorted(codes - {actor.code}),
        "status_on": on.isoformat(),
        "participations": participations,
        "stances": [
            {"measure": row["measure_slug"], **row["answer"].as_dict("stance")}
            for row in sorted(current, key=lambda row: row["measure_slug"])
        ],
        "positions": [
            {
                "id": row["id"],
                "measure": row["measure_slug"],
                "stance": row["stance"],
                "date": row["date"].isoformat(),
                "date_precision": row["date_precision"],
                "quote": row["quote"],
                "certainty": row["certainty"],
                "current": row["id"] in {c["id"] for c in current},
            }
            for row in positions
        ],
    }


def _group(rows: Iterable[Any], key: str) -> dict[Any, list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    return groups


def position_representation(position: Position, request: Request | None) -> dict[str, Any]:
    return {
        "id": position.pk,
        "url": _base_url(request, f"/api/v1/positions/{position.pk}/"),
        "measure": position.measure.slug,
        "actor": position.actor.code,
        "stance": position.stance,
        "date": position.date.isoformat(),
        "date_precision": position.date_precision,
        "quote": position.quote,
        "certainty": position.certainty,
        "citations": _citations(position.citations.all()),
        "created_at": iso(position.created_at),
        "updated_at": iso(position.updated_at),
    }


def event_representation(event: Event, request: Request | None) -> dict[str, Any]:
    return {
        "id": event.pk,
        "url": _base_url(request, f"/api/v1/events/{event.pk}/"),
        "measure": event.measure.slug,
        "kind": event.kind,
        "date": event.date.isoformat(),
        "date_precision": event.date_precision,
        "actor": event.actor.code if event.actor else None,
        "scope_note": event.scope_note,
        "certainty": event.certainty,
        "description": event.description,
        "citations": _citations(event.citations.all()),
        "created_at": iso(event.created_at),
        "updated_at": iso(event.updated_at),
    }


def source_representation(source: Source, request: Request | None) -> dict[str, Any]:
    return {
        "id": source.pk,
        "url": source.url,
        "api_url": _base_url(request, f"/api/v1/sources/{source.pk}/"),
        "host": source.host,
        "title": source.title,
        "publisher": source.publisher,
        "kind": source.kind,
        "is_primary": source.is_primary,
        "published_on": iso(source.published_on),
        "archived_url": source.archived_url,
        "display_title": source.display_title,
        "fetched_title": source.fetched_title,
        "fetched_published_on": iso(source.fetched_published_on),
        "fetched_canonical_url": source.fetched_canonical_url,
        "fetched_language": source.fetched_language,
        "health": source.health,
        "http_status": source.http_status,
        "final_url": source.final_url,
        "content_hash": source.content_hash,
        "content_changed_at": iso(source.content_changed_at),
        "last_checked_at": iso(source.last_checked_at),
        "next_check_at": iso(source.next_check_at),
        "consecutive_failures": source.consecutive_failures,
        "last_error": source.last_error,
        "created_at": iso(source.created_at),
        "updated_at": iso(source.updated_at),
    }


def check_representation(check: dict[str, Any]) -> dict[str, Any]:
    return {**check, "checked_at": iso(check["checked_at"])}


CHECK_ROW_FIELDS = (
    "id",
    "checked_at",
    "outcome",
    "http_status",
    "final_url",
    "duration_ms",
    "bytes_read",
    "content_hash",
    "error",
)


def citation_representation(citation: Citation, request: Request | None) -> dict[str, Any]:
    return {
        "id": citation.pk,
        "url": _base_url(request, f"/api/v1/citations/{citation.pk}/"),
        "source": citation.source_id,
        "source_url": citation.source.url,
        "measure": citation.measure.slug if citation.measure else None,
        "event": citation.event_id,
        "position": citation.position_id,
        "quote": citation.quote,
        "locator": citation.locator,
        "created_at": iso(citation.created_at),
        "updated_at": iso(citation.updated_at),
    }


# === schema of the reads =========================================================================
# These classes only describe the dicts above (OpenAPI, browsable API); see the module docstring.


class SourceSummarySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    url = serializers.URLField()
    title = serializers.CharField(help_text="The curator's title, else the fetched one.")
    publisher = serializers.CharField()
    kind = serializers.ChoiceField(choices=Source.Kind.choices)
    is_primary = serializers.BooleanField()
    health = serializers.ChoiceField(choices=Source.Health.choices)
    archived_url = serializers.CharField()


class CitedSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    source = SourceSummarySerializer()  # type: ignore[assignment]
    quote = serializers.CharField()
    locator = serializers.CharField()


class MeasureEventSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Event.Kind.choices)
    date = serializers.DateField()
    date_precision = serializers.ChoiceField(choices=DatePrecision.choices)
    actor = serializers.CharField(allow_null=True, help_text="Empty: the measure as a whole.")
    scope_note = serializers.CharField()
    certainty = serializers.ChoiceField(choices=Certainty.choices)


class MeasureEventDetailSerializer(MeasureEventSerializer):
    description = serializers.CharField()
    citations = CitedSerializer(many=True)


class CurrentPositionSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="The latest position that may count that day.")
    actor = serializers.CharField()
    stance = serializers.ChoiceField(
        choices=Position.Stance.choices,
        allow_null=True,
        help_text="The actor's stance on `status_on`; null when uncertain (see `certain`).",
    )
    certain = serializers.BooleanField(
        help_text="False on a day inside the period of a position dated only to the month or "
        "year, when it may or may not have been taken yet and the stances differ."
    )
    stance_possible = serializers.ListField(
        child=serializers.ChoiceField(choices=Position.Stance.choices, allow_null=True),
        help_text="Every value it may have had that day (null: none yet); one value when certain.",
    )
    basis = serializers.ChoiceField(choices=Certainty.choices, allow_null=True)
    date = serializers.DateField(help_text="When the actor last stated it.")
    date_precision = serializers.ChoiceField(choices=DatePrecision.choices)
    quote = serializers.CharField()
    certainty = serializers.ChoiceField(choices=Certainty.choices)
    since = serializers.DateField(
        allow_null=True,
        help_text="First day of the unbroken run of this stance by this actor; null when "
        "uncertain.",
    )


class CurrentPositionDetailSerializer(CurrentPositionSerializer):
    citations = CitedSerializer(many=True)


class MeasurePositionSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    actor = serializers.CharField()
    stance = serializers.ChoiceField(choices=Position.Stance.choices)
    date = serializers.DateField()
    date_precision = serializers.ChoiceField(choices=DatePrecision.choices)
    quote = serializers.CharField()
    certainty = serializers.ChoiceField(choices=Certainty.choices)
    citations = CitedSerializer(many=True)


_PARTICIPATION_VALUES = [p.value for p in rules.Participation]


class ParticipationAnswerSerializer(serializers.Serializer[Any]):
    participation = serializers.ChoiceField(
        choices=[(p, p) for p in _PARTICIPATION_VALUES],
        allow_null=True,
        help_text="The participation on `status_on`; null when uncertain.",
    )
    certain = serializers.BooleanField()
    possible = serializers.ListField(
        child=serializers.ChoiceField(
            choices=[(p, p) for p in _PARTICIPATION_VALUES], allow_null=True
        ),
        help_text="Every value it may have had that day (null: none yet); one value when certain.",
    )
    basis = serializers.ChoiceField(choices=Certainty.choices, allow_null=True)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "properties": {
                "participation": {
                    "type": "string",
                    "enum": _PARTICIPATION_VALUES,
                    "nullable": True,
                },
                "certain": {"type": "boolean"},
                "possible": {
                    "type": "array",
                    "items": {"type": "string", "enum": _PARTICIPATION_VALUES, "nullable": True},
                },
                "basis": {"type": "string", "enum": list(Certainty.values), "nullable": True},
            },
            "required": ["participation", "certain", "possible", "basis"],
        },
        "example": {
            "USA": {
                "participation": "withdrawn",
                "certain": True,
                "possible": ["withdrawn"],
                "basis": "confirmed",
            },
            "PRK": {
                "participation": None,
                "certain": False,
                "possible": ["party", "withdrawn"],
                "basis": "confirmed",
            },
        },
    }
)
class ParticipationsField(serializers.DictField):
    pass


class MeasureSerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField()
    url = serializers.URLField()
    title = serializers.CharField()
    summary = serializers.CharField()
    categories = serializers.ListField(child=serializers.ChoiceField(Category.Code.choices))
    form = serializers.ChoiceField(choices=Measure.Form.choices)
    scope = serializers.ChoiceField(choices=Measure.Scope.choices)
    venue = serializers.CharField()
    parent = serializers.SlugField(  # type: ignore[assignment]
        allow_null=True, help_text="Slug of the measure it amends."
    )
    parties = serializers.ListField(
        child=serializers.CharField(),
        help_text="Actor codes of the named parties: the measure's own signature and entry "
        "into force reach each of them.",
    )
    parameters = serializers.JSONField()
    status = serializers.ChoiceField(
        choices=Measure.Status.choices,
        allow_null=True,
        help_text="Derived from the events on `status_on`; null before the measure existed, "
        "and null while uncertain (see `status_certain`).",
    )
    status_certain = serializers.BooleanField(
        help_text="False on a day inside the period of an event dated only to the month or "
        "year when the answer depends on whether it had happened yet; `status_possible` then "
        "lists every value."
    )
    status_possible = serializers.ListField(
        child=serializers.ChoiceField(choices=Measure.Status.choices, allow_null=True),
        help_text="Every value it may have had that day (null: none yet); one value when certain.",
    )
    status_basis = serializers.ChoiceField(
        choices=Certainty.choices,
        allow_null=True,
        help_text="`reported` or `disputed` when the status rests on such an event; null "
        "before anything happened.",
    )
    status_on = serializers.DateField(help_text="The day status and stances refer to.")
    participations = ParticipationsField(
        help_text="Each actor's participation on `status_on`, by actor code, certain or with "
        "its possible values."
    )
    events = MeasureEventSerializer(many=True, help_text="Oldest first.")
    current_positions = CurrentPositionSerializer(
        many=True, help_text="Each actor's latest position on `status_on`."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(
        help_text="Moves only when the measure's own fields change."
    )


class MeasureDetailSerializer(MeasureSerializer):
    events = MeasureEventDetailSerializer(many=True, help_text="Oldest first.")
    current_positions = CurrentPositionDetailSerializer(many=True)
    positions = MeasurePositionSerializer(
        many=True, help_text="Every position up to `status_on`, oldest first (writable list)."
    )
    citations = CitedSerializer(many=True, help_text="Sources for the measure as a whole.")


class ActorSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    url = serializers.URLField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Actor.Kind.choices)
    aliases = serializers.ListField(child=serializers.CharField())
    successor = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ActorParticipationSerializer(ParticipationAnswerSerializer):
    measure = serializers.SlugField()


class ActorStanceSerializer(serializers.Serializer[Any]):
    measure = serializers.SlugField()
    stance = serializers.ChoiceField(
        choices=Position.Stance.choices,
        allow_null=True,
        help_text="The current stance on `status_on`; null when uncertain.",
    )
    certain = serializers.BooleanField()
    possible = serializers.ListField(
        child=serializers.ChoiceField(choices=Position.Stance.choices, allow_null=True),
        help_text="Every value it may have had that day (null: none yet); one value when certain.",
    )
    basis = serializers.ChoiceField(choices=Certainty.choices, allow_null=True)


class ActorPositionSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    measure = serializers.SlugField()
    stance = serializers.ChoiceField(choices=Position.Stance.choices)
    date = serializers.DateField()
    date_precision = serializers.ChoiceField(choices=DatePrecision.choices)
    quote = serializers.CharField()
    certainty = serializers.ChoiceField(choices=Certainty.choices)
    current = serializers.BooleanField(
        help_text="Its latest position on that measure that may count on `status_on`."
    )


class ActorDetailSerializer(ActorSerializer):
    predecessors = serializers.ListField(
        child=serializers.CharField(), help_text="Actors it succeeded (their events count)."
    )
    status_on = serializers.DateField()
    participations = ActorParticipationSerializer(many=True)
    stances = ActorStanceSerializer(many=True, help_text="Its current stance on each measure.")
    positions = ActorPositionSerializer(many=True)


class PositionSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    url = serializers.URLField()
    measure = serializers.SlugField()
    actor = serializers.CharField()
    stance = serializers.ChoiceField(choices=Position.Stance.choices)
    date = serializers.DateField()
    date_precision = serializers.ChoiceField(choices=DatePrecision.choices)
    quote = serializers.CharField()
    certainty = serializers.ChoiceField(choices=Certainty.choices)
    citations = CitedSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class EventSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    url = serializers.URLField()
    measure = serializers.SlugField()
    kind = serializers.ChoiceField(choices=Event.Kind.choices)
    date = serializers.DateField()
    date_precision = serializers.ChoiceField(choices=DatePrecision.choices)
    actor = serializers.CharField(allow_null=True)
    scope_note = serializers.CharField()
    certainty = serializers.ChoiceField(choices=Certainty.choices)
    description = serializers.CharField()
    citations = CitedSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SourceSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    url = serializers.URLField()
    api_url = serializers.URLField()
    host = serializers.CharField()
    title = serializers.CharField()
    publisher = serializers.CharField()
    kind = serializers.ChoiceField(choices=Source.Kind.choices)
    is_primary = serializers.BooleanField()
    published_on = serializers.DateField(allow_null=True)
    archived_url = serializers.CharField()
    display_title = serializers.CharField(help_text="`title`, else `fetched_title`.")
    fetched_title = serializers.CharField(help_text="Set by the refresh, like every field below.")
    fetched_published_on = serializers.DateField(allow_null=True)
    fetched_canonical_url = serializers.CharField()
    fetched_language = serializers.CharField()
    health = serializers.ChoiceField(choices=Source.Health.choices)
    http_status = serializers.IntegerField(allow_null=True)
    final_url = serializers.CharField()
    content_hash = serializers.CharField()
    content_changed_at = serializers.DateTimeField(allow_null=True)
    last_checked_at = serializers.DateTimeField(allow_null=True)
    next_check_at = serializers.DateTimeField(allow_null=True)
    consecutive_failures = serializers.IntegerField()
    last_error = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SourceCheckSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    checked_at = serializers.DateTimeField()
    outcome = serializers.ChoiceField(choices=SourceCheck.Outcome.choices)
    http_status = serializers.IntegerField(allow_null=True)
    final_url = serializers.CharField()
    duration_ms = serializers.IntegerField()
    bytes_read = serializers.IntegerField()
    content_hash = serializers.CharField()
    error = serializers.CharField()


class CitationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    url = serializers.URLField()
    source = serializers.IntegerField()  # type: ignore[assignment]
    source_url = serializers.URLField()
    measure = serializers.SlugField(allow_null=True)
    event = serializers.IntegerField(allow_null=True)
    position = serializers.IntegerField(allow_null=True)
    quote = serializers.CharField()
    locator = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


# === writes ======================================================================================


class ActorCodeField(serializers.SlugRelatedField[Actor]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="code", queryset=Actor.objects.all(), **kwargs)

    def to_internal_value(self, data: Any) -> Actor:
        return super().to_internal_value(str(data).strip().upper())


class MeasureSlugField(serializers.SlugRelatedField[Measure]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="slug", queryset=Measure.objects.all(), **kwargs)


class EventFields(serializers.Serializer[Any]):
    """What a curator writes of an event, alone or inside its measure."""

    kind = serializers.ChoiceField(choices=Event.Kind.choices)
    date = serializers.DateField()
    date_precision = serializers.ChoiceField(choices=DatePrecision.choices, default="day")
    actor = ActorCodeField(allow_null=True, required=False, default=None)
    scope_note = serializers.CharField(allow_blank=True, max_length=500, default="")
    certainty = serializers.ChoiceField(choices=Certainty.choices, default="confirmed")
    description = serializers.CharField(allow_blank=True, default="")


class PositionFields(serializers.Serializer[Any]):
    """What a curator writes of a position, alone or inside its measure."""

    actor = ActorCodeField()
    stance = serializers.ChoiceField(choices=Position.Stance.choices)
    date = serializers.DateField()
    date_precision = serializers.ChoiceField(choices=DatePrecision.choices, default="day")
    quote = serializers.CharField(allow_blank=True, default="")
    certainty = serializers.ChoiceField(choices=Certainty.choices, default="confirmed")


class EventItemInput(EventFields):
    """An event inside a measure write: with ``id`` it updates that event, without one it is
    created."""

    id = serializers.IntegerField(required=False, allow_null=True)


class PositionItemInput(PositionFields):
    """A position inside a measure write (``id`` as for events)."""

    id = serializers.IntegerField(required=False, allow_null=True)


class MeasureInput(serializers.Serializer[Any]):
    slug = serializers.SlugField(max_length=120)
    title = serializers.CharField(max_length=300)
    summary = serializers.CharField(allow_blank=True, default="")
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=Category.Code.choices), min_length=1
    )
    form = serializers.ChoiceField(choices=Measure.Form.choices)
    scope = serializers.ChoiceField(choices=Measure.Scope.choices)
    venue = serializers.CharField(allow_blank=True, max_length=200, default="")
    parent = MeasureSlugField(allow_null=True, required=False, default=None)  # type: ignore[assignment]
    parameters = serializers.DictField(default=dict)
    events = EventItemInput(
        many=True,
        required=False,
        help_text="When present, the complete list of the measure's events: listed ids are "
        "updated, items without id created, and events left out deleted with their citations.",
    )
    positions = PositionItemInput(
        many=True,
        required=False,
        help_text="When present, the complete list of positions (as for `events`).",
    )

    def split(self) -> dict[str, Any]:
        """Arguments for ``measure_create`` / ``measure_update``."""
        data = dict(self.validated_data)
        return {
            "categories": data.pop("categories", None),
            "events": data.pop("events", None),
            "positions": data.pop("positions", None),
            "fields": data,
        }


class ActorInput(serializers.Serializer[Any]):
    code = serializers.CharField(max_length=16)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Actor.Kind.choices, default=Actor.Kind.STATE)
    aliases = serializers.ListField(child=serializers.CharField(), default=list)
    successor = ActorCodeField(allow_null=True, required=False, default=None)

    def validate_code(self, value: str) -> str:
        return value.strip().upper()


class EventInput(EventFields):
    measure = MeasureSlugField()


class PositionInput(PositionFields):
    measure = MeasureSlugField()


class SourceInput(serializers.Serializer[Any]):
    """The curator's fields only; the refresh fields are read-only (sent ones are ignored)."""

    url = serializers.URLField(max_length=2000)
    title = serializers.CharField(allow_blank=True, max_length=500, default="")
    publisher = serializers.CharField(allow_blank=True, max_length=200, default="")
    kind = serializers.ChoiceField(choices=Source.Kind.choices, default=Source.Kind.OTHER)
    is_primary = serializers.BooleanField(default=False)
    published_on = serializers.DateField(allow_null=True, default=None)
    archived_url = serializers.URLField(allow_blank=True, max_length=2000, default="")


class CitationInput(serializers.Serializer[Any]):
    source = serializers.PrimaryKeyRelatedField(queryset=Source.objects.all())  # type: ignore[assignment]
    measure = MeasureSlugField(allow_null=True, required=False, default=None)
    event = serializers.PrimaryKeyRelatedField(
        queryset=Event.objects.all(), allow_null=True, required=False, default=None
    )
    position = serializers.PrimaryKeyRelatedField(
        queryset=Position.objects.all(), allow_null=True, required=False, default=None
    )
    quote = serializers.CharField(allow_blank=True, default="")
    locator = serializers.CharField(allow_blank=True, max_length=200, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        targets = ("measure", "event", "position")
        instance = getattr(self, "instance", None)
        chosen = [
            name
            for name in targets
            if (attrs[name] if name in attrs else getattr(instance, name, None)) is not None
        ]
        if len(chosen) != 1:
            raise serializers.ValidationError(
                "A citation supports exactly one of measure, event or position."
            )
        return attrs
