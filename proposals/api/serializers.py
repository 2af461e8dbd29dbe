"""What the API reads and accepts: one ``ModelSerializer`` per resource, both the read and the
write description (read-only fields marked so, write defaults in ``extra_kwargs``); the writes
themselves are done by the services (``proposals.services``, ``tracker.writes``), called from the
viewsets, never by ``serializer.save()``. The source's serializer lives beside its model, in
``tracker.serializers``.

**Measures** are the hot path: their representation is built by hand by ``MeasureReader`` from
rows loaded with ``.values()`` in a fixed number of queries, and ``MeasureSerializer`` delegates
its ``to_representation`` to it. The serializer's fields are still the one description of a
measure: what it accepts, and (through the schema) what the reader returns; a test holds every
real response to that schema.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from typing import Any, ClassVar
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request

from proposals import derived
from proposals import status as rules
from proposals.api.params import INT64_MAX
from proposals.models import (
    Actor,
    Category,
    Certainty,
    Citation,
    DatePrecision,
    Event,
    Measure,
    MeasureParticipation,
    MeasureParty,
    ParticipationSpan,
    Position,
    check_date_precision,
    holding_on,
    lineage,
    rule_inputs,
)
from tracker.models import Source, SourceCheck
from tracker.serializers import SourceSummarySerializer


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
    """The measures' own columns as dicts, with the parent's slug.

    The slug is a subquery rather than a join so that PostgreSQL reads it for the rows of the
    page only: with a join, a page ordered by an expression (a search's rank) joined every
    matching row before sorting (benchmarks/README.md, Search)."""
    parent = Measure.objects.filter(pk=OuterRef("parent_id")).order_by().values("slug")
    return measures.values(*MEASURE_ROW_FIELDS, parent_slug=Subquery(parent))


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


# What each field of a measure in a list needs besides the page's own row; a field not listed
# here needs nothing more. ``fields=`` on the list runs only the queries its fields need.
_STATUS_FIELDS = frozenset(
    {"status", "status_certain", "status_possible", "status_basis", "participations"}
)
NEEDS: dict[str, frozenset[str]] = {
    "categories": frozenset({"categories"}),
    "parties": frozenset({"parties"}),
    "events": frozenset({"events"}),
    "current_positions": frozenset({"positions"}),
    **{name: frozenset({"events", "parties", "successors"}) for name in _STATUS_FIELDS},
}


class MeasureReader:
    """Builds measure representations from rows, for one request's ``as_of`` day.

    Queries, whatever the number of measures: categories, events, positions, the actors'
    successor map and (details only) citations. ``fields`` (a list's ``fields=``; None: every
    field) leaves out the fields not named and the queries only they need (``NEEDS``).
    """

    def __init__(
        self,
        request: Request | None,
        *,
        as_of: datetime.date | None,
        fields: Collection[str] | None = None,
    ) -> None:
        self.request = request
        self.as_of = as_of
        self.on = as_of or timezone.localdate()
        self.base = _base_url(request, "/api/v1/measures/")
        self.fields = None if fields is None else frozenset(fields)

    def many(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        return self._build(rows, detail=False)

    def one(self, row: Any) -> dict[str, Any]:
        return self._build([row], detail=True)[0]

    def _wants(self, name: str) -> bool:
        return self.fields is None or name in self.fields

    def _needs(self) -> frozenset[str]:
        if self.fields is None:
            return frozenset({"categories", "parties", "events", "positions", "successors"})
        return frozenset().union(*(NEEDS.get(name, frozenset()) for name in self.fields))

    def _build(self, rows: Sequence[dict[str, Any]], *, detail: bool) -> list[dict[str, Any]]:
        ids = [row["id"] for row in rows]
        if not ids:
            return []
        needs = self._needs()
        categories: dict[int, list[str]] = defaultdict(list)
        if "categories" in needs:
            through = Measure.categories.through.objects.filter(measure_id__in=ids)
            for measure_id, code in through.order_by("category_id").values_list(
                "measure_id", "category_id"
            ):
                categories[measure_id].append(code)

        # Up to the day asked for (every one when none is).
        dated = Q(date__lte=self.as_of) if self.as_of is not None else Q()
        events_of: dict[int, list[Any]] = defaultdict(list)
        if "events" in needs:
            event_fields = ["id", "measure_id", "kind", "date", "date_precision", "scope_note"]
            event_fields += ["certainty", "description"] if detail else ["certainty"]
            events = Event.objects.filter(dated, measure_id__in=ids)
            for event in events.order_by("date", "id").values(
                *event_fields, actor_code=F("actor__code")
            ):
                events_of[event["measure_id"]].append(event)
        positions_of: dict[int, list[Any]] = defaultdict(list)
        if "positions" in needs:
            positions = Position.objects.filter(dated, measure_id__in=ids)
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
        if "parties" in needs:
            named = MeasureParty.objects.filter(measure_id__in=ids).order_by("actor__code")
            for measure_id, code in named.values_list("measure_id", "actor__code"):
                parties[measure_id].append(code)
        successor_of = Actor.objects.successor_map() if "successors" in needs else {}

        cited: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        if detail:
            # By the ids of the rows shown, each on its own index. Not through the events' and
            # positions' measure: an OR across those joins made the database read every
            # citation, event and position of the whole table (benchmarks/README.md, Growth).
            condition = (
                Q(measure_id__in=ids)
                | Q(event_id__in=[e["id"] for events in events_of.values() for e in events])
                | Q(position_id__in=[p["id"] for found in positions_of.values() for p in found])
            )
            for citation in _citation_rows(condition):
                for target in ("measure", "event", "position"):
                    if citation[f"{target}_id"] is not None:
                        cited[(target, citation[f"{target}_id"])].append(_cited(citation))

        status_wanted = self.fields is None or not _STATUS_FIELDS.isdisjoint(self.fields)
        result = []
        for row in rows:
            measure_events = events_of[row["id"]]
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
            }
            if status_wanted:
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
                status = rules.status_on(
                    facts, on=self.on, measure=measure, successor_of=successor_of
                )
                item["status"] = status.value
                item["status_certain"] = status.certain
                item["status_possible"] = list(status.possible)
                item["status_basis"] = status.basis
                item["status_on"] = self.on.isoformat()
                if self._wants("participations"):
                    item["participations"] = {
                        code: answer.as_dict("participation")
                        for code, answer in rules.participations_on(
                            facts, on=self.on, successor_of=successor_of, measure=measure
                        ).items()
                    }
            else:
                item["status_on"] = self.on.isoformat()
            if self._wants("events"):
                item["events"] = [self._event(e, cited, detail) for e in measure_events]
            if self._wants("current_positions"):
                item["current_positions"] = [
                    self._position(p, cited, detail, current=True)
                    for p in current_positions(positions_of[row["id"]], on=self.on)
                ]
            if detail:
                item["positions"] = [
                    self._position(p, cited, detail, current=False) for p in positions_of[row["id"]]
                ]
                item["citations"] = cited[("measure", row["id"])]
            item["created_at"] = iso(row["created_at"])
            item["updated_at"] = iso(row["updated_at"])
            if self.fields is not None:
                item = {name: value for name, value in item.items() if name in self.fields}
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


# === shared fields ===============================================================================


class ActorCodeField(serializers.SlugRelatedField[Actor]):
    """An actor by its code, in any case (``rus`` is RUS)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="code", queryset=Actor.objects.all(), **kwargs)

    def to_internal_value(self, data: Any) -> Actor:
        return super().to_internal_value(str(data).strip().upper())


class MeasureSlugField(serializers.SlugRelatedField[Measure]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="slug", queryset=Measure.objects.all(), **kwargs)


class SourceRefField(serializers.PrimaryKeyRelatedField[Source]):
    """A citation's source: written as its id, read as its summary (``SourceSummary``)."""

    summary = SourceSummarySerializer()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=Source.objects.all(), **kwargs)

    def use_pk_only_optimization(self) -> bool:
        return False

    def to_representation(self, value: Source) -> Any:  # type: ignore[override]
        return self.summary.to_representation(value)


class SourceRefFieldExtension(OpenApiSerializerFieldExtension):
    target_class = SourceRefField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        if direction == "request":
            return {"type": "integer", "description": "The id of a source."}
        return auto_schema.resolve_serializer(SourceSummarySerializer, direction).ref


# === citations as their fact shows them ==========================================================


class CitedSerializer(serializers.ModelSerializer[Citation]):
    """One citation of a fact. Written with the fact, its source named by ``url`` (matched by
    normalized URL, or created) or by ``source`` (an id)."""

    source = SourceRefField(required=False)  # type: ignore[assignment]
    url = serializers.URLField(
        write_only=True,
        required=False,
        max_length=2000,
        help_text="The source's URL: an existing source with the same normalized URL is cited, "
        "else a new source is created (its refresh fetches title and date).",
    )

    class Meta:
        model = Citation
        fields: tuple[str, ...] = ("id", "source", "url", "quote", "locator")
        validators: ClassVar[list[Any]] = []
        extra_kwargs: ClassVar[dict[str, dict[str, Any]]] = {
            "quote": {"default": ""},
            "locator": {"default": ""},
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("source" in attrs) == ("url" in attrs):
            raise serializers.ValidationError("Give the source by either `url` or `source`.")
        return attrs


CITATIONS_HELP = (
    "When present in a write, the complete list of its citations: one with the same source "
    "and locator as a current one keeps it (its quote updated), the others are created, and "
    "current ones left out are deleted. All in the same transaction as the rest of the write."
)


# === measures ====================================================================================


class NestedFactSerializer(serializers.ModelSerializer[Any]):
    """What an event and a position inside their measure share: the optional ``id``, the
    citations, the defaults and the date's check against the stored precision."""

    id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=INT64_MAX)
    citations = CitedSerializer(many=True, required=False, help_text=CITATIONS_HELP)

    # What every nested fact defaults to when a write leaves it out.
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "date_precision": {"default": "day"},
        "certainty": {"default": "confirmed"},
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return date_against_stored_precision(self, attrs)


class MeasureEventSerializer(NestedFactSerializer):
    """An event inside its measure: with ``id`` a write updates that event, without one it is
    created."""

    actor = ActorCodeField(
        allow_null=True, required=False, default=None, help_text="Empty: the measure as a whole."
    )

    class Meta:
        model = Event
        fields: tuple[str, ...] = (
            "id",
            "kind",
            "date",
            "date_precision",
            "actor",
            "scope_note",
            "certainty",
            "description",
            "citations",
        )
        validators: ClassVar[list[Any]] = []
        extra_kwargs: ClassVar[dict[str, dict[str, Any]]] = {
            **NestedFactSerializer.DEFAULTS,
            "scope_note": {"default": ""},
            "description": {"default": ""},
        }


class MeasureEventSummarySerializer(MeasureEventSerializer):
    """An event in a list of measures (no description, no citations)."""

    class Meta(MeasureEventSerializer.Meta):
        fields: tuple[str, ...] = (
            "id",
            "kind",
            "date",
            "date_precision",
            "actor",
            "scope_note",
            "certainty",
        )


class MeasurePositionSerializer(NestedFactSerializer):
    """A position inside its measure (``id`` as for events)."""

    actor = ActorCodeField()

    class Meta:
        model = Position
        fields: tuple[str, ...] = (
            "id",
            "actor",
            "stance",
            "date",
            "date_precision",
            "quote",
            "certainty",
            "citations",
        )
        validators: ClassVar[list[Any]] = []
        extra_kwargs: ClassVar[dict[str, dict[str, Any]]] = {
            **NestedFactSerializer.DEFAULTS,
            "quote": {"default": ""},
        }


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


class MeasureSerializer(serializers.ModelSerializer[Measure]):
    """A measure, read in full (its detail) and written; ``MeasureListSerializer`` is the
    shorter form of the list. Reads are built by ``MeasureReader``."""

    url = serializers.HyperlinkedIdentityField(view_name="measure-detail", lookup_field="slug")
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=Category.Code.choices), min_length=1
    )
    parent = MeasureSlugField(  # type: ignore[assignment]
        allow_null=True, required=False, default=None, help_text="Slug of the measure it amends."
    )
    parties = ActorCodeField(
        many=True,
        required=False,
        help_text="Actor codes of the named parties: the measure's own signature and entry "
        "into force reach each of them. When present in a write, the complete list.",
    )
    parameters = serializers.DictField(
        default=dict, help_text='Free-form facts, e.g. {"range_km": [500, 5500]}.'
    )
    status = serializers.ChoiceField(
        choices=Measure.Status.choices,
        allow_null=True,
        read_only=True,
        help_text="Derived from the events on `status_on`; null before the measure existed, "
        "and null while uncertain (see `status_certain`).",
    )
    status_certain = serializers.BooleanField(
        read_only=True,
        help_text="False on a day inside the period of an event dated only to the month or "
        "year when the answer depends on whether it had happened yet; `status_possible` then "
        "lists every value.",
    )
    status_possible = serializers.ListField(
        child=serializers.ChoiceField(choices=Measure.Status.choices, allow_null=True),
        read_only=True,
        help_text="Every value it may have had that day (null: none yet); one value when certain.",
    )
    status_basis = serializers.ChoiceField(
        choices=Certainty.choices,
        allow_null=True,
        read_only=True,
        help_text="`reported` or `disputed` when the status rests on such an event; null "
        "before anything happened.",
    )
    status_on = serializers.DateField(
        read_only=True, help_text="The day status and stances refer to."
    )
    participations = ParticipationsField(
        read_only=True,
        help_text="Each actor's participation on `status_on`, by actor code, certain or with "
        "its possible values.",
    )
    events = MeasureEventSerializer(
        many=True,
        required=False,
        help_text="Oldest first. When present in a write, the complete list of the measure's "
        "events: listed ids are updated, items without id created, and events left out "
        "deleted with their citations.",
    )
    current_positions = CurrentPositionDetailSerializer(
        many=True, read_only=True, help_text="Each actor's latest position on `status_on`."
    )
    positions = MeasurePositionSerializer(
        many=True,
        required=False,
        help_text="Every position up to `status_on`, oldest first. When present in a write, "
        "the complete list of positions (as for `events`).",
    )
    citations = CitedSerializer(
        many=True, read_only=True, help_text="Sources for the measure as a whole."
    )
    updated_at = serializers.DateTimeField(
        read_only=True, help_text="Moves only when the measure's own fields change."
    )

    class Meta:
        model = Measure
        fields: tuple[str, ...] = (
            "slug",
            "url",
            "title",
            "summary",
            "categories",
            "form",
            "scope",
            "venue",
            "parent",
            "parties",
            "parameters",
            "status",
            "status_certain",
            "status_possible",
            "status_basis",
            "status_on",
            "participations",
            "events",
            "current_positions",
            "positions",
            "citations",
            "created_at",
            "updated_at",
        )
        extra_kwargs: ClassVar[dict[str, dict[str, Any]]] = {
            # A taken slug is a 409 naming that measure (the write decides, not a validator).
            "slug": {"validators": []},
            "summary": {"default": ""},
            "venue": {"default": ""},
        }

    def to_representation(self, instance: Measure) -> dict[str, Any]:
        row = measure_rows(Measure.objects.filter(pk=instance.pk)).get()
        return MeasureReader(self.context.get("request"), as_of=None).one(row)

    def split(self) -> dict[str, Any]:
        """Arguments for ``measure_create`` / ``measure_update``."""
        data = dict(self.validated_data)
        return {
            "categories": data.pop("categories", None),
            "parties": data.pop("parties", None),
            "events": data.pop("events", None),
            "positions": data.pop("positions", None),
            "fields": data,
        }


class MeasureListSerializer(MeasureSerializer):
    """A measure in a list: its events without descriptions and citations, no positions."""

    events = MeasureEventSummarySerializer(many=True, read_only=True, help_text="Oldest first.")
    current_positions = CurrentPositionSerializer(  # type: ignore[assignment]
        many=True, read_only=True, help_text="Each actor's latest position on `status_on`."
    )

    class Meta(MeasureSerializer.Meta):
        fields: tuple[str, ...] = tuple(
            name for name in MeasureSerializer.Meta.fields if name not in ("positions", "citations")
        )


class MeasureListSerializerExtension(OpenApiSerializerExtension):
    """A measure in a list has every field unless the request's ``fields=`` names some: then
    only those and ``url``. The schema says so, and requires ``url`` alone."""

    target_class = MeasureListSerializer

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "response":
            schema["required"] = ["url"]
            schema["description"] = (
                "Every field is present, unless the request's `fields=` names some: then only "
                "those and `url`. The list then also runs only the queries the named fields "
                "need: `categories` its categories, `parties` its named parties, `events` its "
                "events, `current_positions` its positions, and `status`, `status_certain`, "
                "`status_possible`, `status_basis` and `participations` its events, its named "
                "parties and the actors' successors; the measure's own fields (`slug`, `title`, "
                "`summary`, `form`, `scope`, `venue`, `parent`, `parameters`, `status_on`, "
                "`created_at`, `updated_at`) need none beyond the page."
            )
        return schema


# === actors ======================================================================================


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict with the current state of the data."
    default_code = "conflict"


def date_against_stored_precision(
    serializer: serializers.Serializer[Any], attrs: dict[str, Any]
) -> dict[str, Any]:
    """A partial update that sends a date without its precision, or a precision without its
    date: the two must still agree (a 409 when not, since it depends on what the row holds)."""
    instance = serializer.instance
    if (
        not serializer.partial
        or instance is None
        or ("date" in attrs) == ("date_precision" in attrs)
    ):
        return attrs
    date = attrs.get("date", instance.date)
    precision = attrs.get("date_precision", instance.date_precision)
    try:
        check_date_precision(date, precision)
    except DjangoValidationError as error:
        raise Conflict(
            f"{error.message_dict['date'][0]} It is stored as {instance.date.isoformat()} with "
            f"{instance.date_precision} precision: send `date` and `date_precision` together "
            "to change either."
        ) from None
    return attrs


# An actor's code as written: any case (stored in capitals), no spaces.
CODE_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{0,15}$"


class ActorSerializer(serializers.ModelSerializer[Actor]):
    url = serializers.HyperlinkedIdentityField(view_name="actor-detail", lookup_field="code")
    aliases = serializers.ListField(child=serializers.CharField(), default=list)
    successor = ActorCodeField(allow_null=True, required=False, default=None)

    class Meta:
        model = Actor
        fields: tuple[str, ...] = (
            "code",
            "url",
            "name",
            "kind",
            "aliases",
            "successor",
            "created_at",
            "updated_at",
        )
        extra_kwargs: ClassVar[dict[str, dict[str, Any]]] = {
            # A taken code is a 409 naming that actor (the write decides, not a validator).
            # No spaces trimmed: the schema's pattern has none (proposals.api.schema).
            "code": {"validators": [], "trim_whitespace": False},
            "kind": {"default": Actor.Kind.STATE},
        }

    def validate_code(self, value: str) -> str:
        # The shape the schema states for both kinds (proposals.api.schema.actor_code_rules);
        # whether a state's code is an ISO code is the model's rule.
        if not re.search(CODE_PATTERN, value):
            raise serializers.ValidationError(
                "An actor code is a letter, then letters, digits or hyphens (at most 16, no "
                "spaces): RUS, NATO, G20."
            )
        return value.upper()


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


class ActorMoreSerializer(serializers.Serializer[Any]):
    """Where a list of the actor's page that was cut continues, in pages (null: not cut)."""

    participations = serializers.URLField(
        allow_null=True,
        help_text="The measures the actor is involved in (`/measures/?actor=`), each with its "
        "participations, as of the same day.",
    )
    stances = serializers.URLField(
        allow_null=True,
        help_text="The same measures, each with its current positions, as of the same day.",
    )
    positions = serializers.URLField(
        allow_null=True,
        help_text="Every position it took by that day (`/positions/?actor=`), in the same order.",
    )


class ActorDetailSerializer(ActorSerializer):
    """The actor with its positions, current stances and participations on ``as_of`` (the
    serializer context's, default today), each list cut at ``TRACKER_API_ACTOR_LIST_LIMIT``."""

    predecessors = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Actors it succeeded (their events count).",
    )
    status_on = serializers.DateField(read_only=True)
    participations = ActorParticipationSerializer(
        many=True,
        read_only=True,
        help_text="Its participation in each measure, in slug order; at most "
        "`TRACKER_API_ACTOR_LIST_LIMIT` (100 by default) of them, the rest through `more`.",
    )
    stances = ActorStanceSerializer(
        many=True,
        read_only=True,
        help_text="Its current stance on each measure it took a position on, in slug order; at "
        "most the same number, the rest through `more`.",
    )
    positions = ActorPositionSerializer(
        many=True,
        read_only=True,
        help_text="The positions it took by that day, oldest first; at most the same number, "
        "the rest through `more`.",
    )
    more = ActorMoreSerializer(
        read_only=True,
        help_text="For each list that was cut, where all of it can be read in pages; null for a "
        "list given whole.",
    )

    class Meta(ActorSerializer.Meta):
        fields: tuple[str, ...] = (
            *ActorSerializer.Meta.fields,
            "predecessors",
            "status_on",
            "participations",
            "stances",
            "positions",
            "more",
        )

    def to_representation(self, instance: Actor) -> dict[str, Any]:
        own = ActorSerializer(context=self.context).to_representation(instance)
        request = self.context.get("request")
        extras = actor_detail_extras(instance, as_of=self.context.get("as_of"))
        more = _actor_more(instance, extras.pop("_cut"), request)
        return {**own, **extras, "more": more}


_ACTOR_POSITION_FIELDS = (
    "id",
    "stance",
    "date",
    "date_precision",
    "quote",
    "certainty",
    "measure_id",
    "actor_code",
)


def actor_list_limit() -> int:
    """The most entries each list of an actor's page holds (``TRACKER_API_ACTOR_LIST_LIMIT``)."""
    return int(settings.TRACKER_API_ACTOR_LIST_LIMIT)


def _actor_more(actor: Actor, cut: dict[str, Any], request: Request | None) -> dict[str, Any]:
    def url(path: str, **query: str) -> str:
        address = f"/api/v1/{path}/?" + urlencode(query)
        return request.build_absolute_uri(address) if request is not None else address

    on = str(cut["on"])
    involved = url("measures", actor=actor.code, as_of=on)
    positions = url("positions", actor=actor.code, date_before=on)
    return {
        "participations": involved if cut["participations"] else None,
        "stances": involved if cut["stances"] else None,
        "positions": positions if cut["positions"] else None,
    }


def actor_detail_extras(actor: Actor, *, as_of: datetime.date | None) -> dict[str, Any]:
    """The actor's positions taken by ``as_of`` (today by default), its current stance on each
    measure and its participation in each, each answer certain or given as its possible values;
    each list cut at ``actor_list_limit()`` entries, read no further than that (so the page
    costs the same however much the actor did), with ``_cut`` saying which were cut. A constant
    number of queries: six besides the actor's for today (participations stored), more for
    another day (participations derived from the events of the measures shown)."""
    on = as_of or timezone.localdate()
    limit = actor_list_limit()
    successor_of = Actor.objects.successor_map()
    codes = lineage(actor.code, successor_of)
    positions = list(
        Position.objects.filter(actor=actor, date__lte=on)
        .order_by("date", "id")
        .annotate(actor_code=F("actor__code"))
        .values(*_ACTOR_POSITION_FIELDS, measure_slug=F("measure__slug"))[: limit + 1]
    )
    # The first measures, in slug order, that it took a position on by that day; then all of
    # its positions on them, from which the current ones come.
    taken = Position.objects.filter(measure=OuterRef("pk"), actor=actor, date__lte=on)
    stance_measures = list(
        Measure.objects.filter(Exists(taken))
        .order_by("slug")
        .values_list("pk", flat=True)[: limit + 1]
    )
    # Whether a position shown is current needs the others on its measure too.
    with_stance = set(stance_measures[:limit])
    shown = with_stance | {row["measure_id"] for row in positions[:limit]}
    on_those = (
        Position.objects.filter(actor=actor, date__lte=on, measure_id__in=shown)
        .order_by("date", "id")
        .annotate(actor_code=F("actor__code"))
        .values(*_ACTOR_POSITION_FIELDS, measure_slug=F("measure__slug"))
    )
    current = [
        row
        for measure_positions in _group(on_those, "measure_id").values()
        for row in current_positions(measure_positions, on=on)
    ]
    participations = []
    if on == timezone.localdate():
        # Today's are stored (proposals.derived): one query, however many measures it is in.
        stored = list(
            MeasureParticipation.objects.filter(actor=actor)
            .order_by("measure__slug")
            .values_list("measure__slug", "participation", "possible", "basis")[: limit + 1]
        )
        participations_cut = len(stored) > limit
        for slug, *values in stored[:limit]:
            today = derived.Stored(*values).answer()
            participations.append({"measure": slug, **today.as_dict("participation")})
    else:
        # The first measures, in slug order, in which it had a participation that day (the
        # stored answers over time say which); the rules then give each its whole answer.
        spans = ParticipationSpan.objects.filter(holding_on(on), actor=actor)
        involved = list(
            Measure.objects.filter(pk__in=spans.values("measure_id"))
            .order_by("slug")
            .values_list("pk", "slug")[: limit + 1]
        )
        participations_cut = len(involved) > limit
        slugs = dict(involved[:limit])
        for measure_id, (facts, measure) in rule_inputs(slugs.keys(), before=on).items():
            answer = rules.participations_on(
                facts, on=on, successor_of=successor_of, measure=measure
            ).get(actor.code)
            if answer is not None:
                participations.append(
                    {"measure": slugs[measure_id], **answer.as_dict("participation")}
                )
    participations.sort(key=lambda item: str(item["measure"]))
    current_ids = {row["id"] for row in current}
    return {
        "predecessors": sorted(codes - {actor.code}),
        "status_on": on.isoformat(),
        "participations": participations,
        "stances": [
            {"measure": row["measure_slug"], **row["answer"].as_dict("stance")}
            for row in sorted(current, key=lambda row: row["measure_slug"])
            if row["measure_id"] in with_stance
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
                "current": row["id"] in current_ids,
            }
            for row in positions[:limit]
        ],
        "_cut": {
            "on": on.isoformat(),
            "participations": participations_cut,
            "stances": len(stance_measures) > limit,
            "positions": len(positions) > limit,
        },
    }


def _group(rows: Iterable[Any], key: str) -> dict[Any, list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    return groups


# === events, positions, citations ================================================================


class EventSerializer(MeasureEventSerializer):
    id = serializers.IntegerField(read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="event-detail")
    measure = MeasureSlugField()
    actor = ActorCodeField(allow_null=True, required=False, default=None)

    class Meta(MeasureEventSerializer.Meta):
        fields: tuple[str, ...] = (
            "id",
            "url",
            "measure",
            *MeasureEventSerializer.Meta.fields[1:],
            "created_at",
            "updated_at",
        )


class PositionSerializer(MeasurePositionSerializer):
    id = serializers.IntegerField(read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="position-detail")
    measure = MeasureSlugField()

    class Meta(MeasurePositionSerializer.Meta):
        fields: tuple[str, ...] = (
            "id",
            "url",
            "measure",
            *MeasurePositionSerializer.Meta.fields[1:],
            "created_at",
            "updated_at",
        )


class CitationSerializer(serializers.ModelSerializer[Citation]):
    """A link from a source to the one measure, event or position it supports."""

    url = serializers.HyperlinkedIdentityField(view_name="citation-detail")
    source_url = serializers.URLField(source="source.url", read_only=True)
    measure = MeasureSlugField(allow_null=True, required=False, default=None)

    class Meta:
        model = Citation
        fields: tuple[str, ...] = (
            "id",
            "url",
            "source",
            "source_url",
            "measure",
            "event",
            "position",
            "quote",
            "locator",
            "created_at",
            "updated_at",
        )
        validators: ClassVar[list[Any]] = []
        extra_kwargs: ClassVar[dict[str, dict[str, Any]]] = {
            "event": {"default": None},
            "position": {"default": None},
            "quote": {"default": ""},
            "locator": {"default": ""},
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        targets = ("measure", "event", "position")
        if sum(attrs.get(name) is not None for name in targets) > 1:
            raise serializers.ValidationError(
                "A citation supports exactly one of measure, event or position."
            )
        instance = getattr(self, "instance", None)
        chosen = [
            name
            for name in targets
            if (attrs[name] if name in attrs else getattr(instance, name, None)) is not None
        ]
        if len(chosen) == 1:
            return attrs
        if instance is None or not self.partial:
            raise serializers.ValidationError(
                "A citation supports exactly one of measure, event or position."
            )
        # A partial update that is fine on its own but not with what the citation holds.
        supports = next(name for name in targets if getattr(instance, name, None) is not None)
        raise Conflict(
            f"This citation supports a {supports}: to move it, send `{supports}: null` with the "
            "new one; to leave it nothing to support, delete it."
        )


# === a source's check history (rows read with .values()) =========================================


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
