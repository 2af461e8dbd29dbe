"""Query parameters of the list endpoints, one ``<Model>FilterSet`` each.

Every parameter is parsed by a field of ``proposals.api.params`` (the grammar shared by the whole
API) before any filtering: a malformed date, a value outside a vocabulary, an actor code or
measure slug that does not exist, or an ordering the list does not offer is a 400 whose body
names the parameter — never a silently empty or unfiltered list. Parameters that take a
vocabulary accept several values, repeated or comma-separated (``?status=in_force,suspended``),
meaning any of them. The OpenAPI parameters are built from the same fields.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, cast

import django_filters as filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.contrib.django_filters import DjangoFilterExtension

from proposals.api import params
from proposals.models import Actor, Category, Citation, Event, Measure, Position, current_on
from tracker.models import Source, SourceCheck
from tracker.urlnorm import InvalidSourceURL, url_match_key

ENDORSING_STANCES = (Position.Stance.PROPOSES, Position.Stance.ENDORSES)
OPPOSING_STANCES = (Position.Stance.OPPOSES,)


# --- filters over the shared fields -------------------------------------------------------------


class DateFilter(filters.Filter):
    field_class = params.DateParam


class InstantFilter(filters.Filter):
    field_class = params.InstantParam


class BooleanFilter(filters.Filter):
    field_class = params.BooleanParam


class TextFilter(filters.Filter):
    field_class = params.TextParam


class SearchFilter(filters.Filter):
    field_class = params.SearchParam


class IdFilter(filters.Filter):
    field_class = params.IntegerParam


class ActorCodeFilter(filters.Filter):
    """An actor code that names an actor (one query), in any case."""

    field_class = params.ActorCodeParam

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("must_exist", True)
        super().__init__(*args, **kwargs)


class MeasureSlugFilter(filters.Filter):
    """A slug that names a measure (one query)."""

    field_class = params.SlugParam

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("must_exist", True)
        kwargs.setdefault("help_text", "Measure slug.")
        super().__init__(*args, **kwargs)


class HostFilter(filters.Filter):
    field_class = params.HostParam


class ListFilter(filters.MultipleChoiceFilter):
    """Any of several values (``OR``); see ``params.ListParam``."""

    field_class = params.ListParam

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)


class OrderingFilter(filters.Filter):
    """Orders by the chosen fields, then by id, so pages never overlap or skip a row."""

    field_class = params.OrderingParam

    def __init__(self, *, fields: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(fields=fields, **kwargs)

    def filter(self, qs: QuerySet[Any], value: list[str]) -> QuerySet[Any]:
        if not value:
            return qs
        return qs.order_by(*value, "-pk" if value[-1].startswith("-") else "pk")


class StrictFilterSet(filters.FilterSet):
    """Also rejects a parameter given twice where only one value makes sense, and keeps the
    ``as_of`` it parsed for the rest of the request."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        lists = params.list_names(self.base_filters)
        for name in self.form.fields:
            if name not in lists and len(self.data.getlist(name, [])) > 1:
                self.form.add_error(
                    name, "Give this parameter once; only list parameters may be repeated."
                )
                valid = False
        if valid:
            params.remember(self.request, self.form.cleaned_data)
        return valid

    @classmethod
    def list_parameters(cls) -> set[str]:
        return params.list_names(cls.base_filters)


class StrictFilterExtension(DjangoFilterExtension):
    """Documents each filter of a ``StrictFilterSet`` from its ``params`` field, exactly as the
    same kind of parameter is documented on every other endpoint."""

    priority = 1

    def get_schema_operation_parameters(
        self, auto_schema: Any, *args: Any, **kwargs: Any
    ) -> list[dict[str, Any]]:
        filterset_class = getattr(auto_schema.view, "filterset_class", None)
        if filterset_class is None or not issubclass(filterset_class, StrictFilterSet):
            return super().get_schema_operation_parameters(auto_schema, *args, **kwargs)
        model = filterset_class._meta.model
        documented: list[dict[str, Any]] = []
        for name, filter_ in filterset_class.base_filters.items():
            field = filter_.field
            if isinstance(field, params.Parameter):
                documented.append(params.parameter_object(name, field))
            else:  # a plain django-filter filter: documented as django-filter would
                documented += self.resolve_filter_field(
                    auto_schema, model, filterset_class, name, filter_
                )
        return documented


# --- measures -----------------------------------------------------------------------------------


class MeasureFilterSet(StrictFilterSet):
    category = ListFilter(
        choices=Category.Code.choices,
        method="filter_category",
        help_text="Measures in any of these categories.",
    )
    status = ListFilter(
        choices=Measure.Status.choices,
        method="filter_status",
        help_text="Status on the `as_of` day (today when absent), derived from the events by "
        "the rules above. Measures not yet in existence that day have no status and never match.",
    )
    form = ListFilter(choices=Measure.Form.choices)
    scope = ListFilter(choices=Measure.Scope.choices)
    venue = TextFilter(lookup_expr="icontains", help_text="Part of the venue's name, any case.")
    actor = ActorCodeFilter(
        method="filter_actor",
        help_text="Actor code (e.g. `CHN`): measures on which it acted (an event), took a "
        "position or is a named party, at any date.",
    )
    party = ActorCodeFilter(
        method="filter_party",
        help_text="Actor code: measures to which it was a party on the `as_of` day (today when "
        "absent). A successor counts its predecessor's ratification (RUS for SUN).",
    )
    endorsed_by = ActorCodeFilter(
        method="filter_endorsed_by",
        help_text="Actor code: measures whose latest position by that actor (as of `as_of`) is "
        "`proposes` or `endorses`. Conditional support is not endorsement; ask "
        "/positions/?stance=conditional.",
    )
    opposed_by = ActorCodeFilter(
        method="filter_opposed_by",
        help_text="Actor code: measures whose latest position by that actor (as of `as_of`) is "
        "`opposes`.",
    )
    as_of = DateFilter(
        method="filter_as_of",
        help_text="Statuses, participations and current stances in the response, "
        "and the `status`, `party`, `endorsed_by` and `opposed_by` filters, as they stood that "
        "day; events after it are left out. Default: today.",
    )
    certain = BooleanFilter(
        method="filter_certain",
        help_text="`true`: the `status`, `party`, `endorsed_by` and `opposed_by` filters keep "
        "only measures whose answer is certain on the `as_of` day. By default a measure whose "
        "answer is uncertain that day (it rests on an event or position dated only to the "
        "month or year, and the day falls inside that period) is returned when any of its "
        "possible values matches, marked `status_certain: false` or `certain: false`.",
    )
    changed_since = InstantFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Measures whose own fields "
        "changed at or after it. For every kind of change, deletions included, use /changes/.",
    )
    q = SearchFilter(
        method="filter_q",
        help_text="Full-text search in title, venue and summary, in web-search syntax: every "
        'word must appear (`launches` also finds *launch*), `"a phrase"` as written, `or` between '
        'alternatives, `-word` or `-"a phrase"` excludes; other punctuation separates words and '
        "English stop words (*the*, *of*) are ignored. Results come best first: the measures whose "
        "title alone matches, then those whose venue alone matches, then the rest, each group in "
        "the default order; with "
        "`ordering`, or with `cursor` (whose pages follow the default order, or `ordering`), in "
        "that order instead. Served by an index on both databases; see the data semantics for "
        "how SQLite's stemming and phrases differ.",
    )
    ordering = OrderingFilter(fields=("slug", "title", "status", "updated_at", "created_at"))

    class Meta:
        model = Measure
        fields: list[str] = []

    @property
    def as_of_given(self) -> datetime.date | None:
        return self.form.cleaned_data.get("as_of")

    @property
    def as_of_date(self) -> datetime.date:
        return self.as_of_given or timezone.localdate()

    def filter_category(self, qs: Any, name: str, value: list[str]) -> QuerySet[Measure]:
        return qs.in_categories(value)

    @property
    def certain_only(self) -> bool:
        return bool(self.form.cleaned_data.get("certain"))

    def filter_status(self, qs: Any, name: str, value: list[str]) -> QuerySet[Measure]:
        if self.as_of_given is None:
            # Today's status is stored (and kept equal to the derived one): an indexed filter.
            return qs.with_stored_status(statuses=value, certain_only=self.certain_only)
        return qs.with_status_on(statuses=value, on=self.as_of_date, certain_only=self.certain_only)

    def filter_actor(self, qs: Any, name: str, value: str) -> QuerySet[Measure]:
        # The id the code's validation read: a literal the planner can weigh (see involving).
        field = cast(params.ActorCodeParam, self.form.fields[name])
        return qs.involving(value, actor_id=field.actor_id)

    def filter_party(self, qs: Any, name: str, value: str) -> QuerySet[Measure]:
        if self.as_of_given in (None, timezone.localdate()):
            # Today's participations are stored (and kept equal to the derived ones): indexed.
            return qs.with_stored_participation(
                code=value, participations=["party"], certain_only=self.certain_only
            )
        return qs.with_participation(
            code=value,
            participations=["party"],
            on=self.as_of_date,
            certain_only=self.certain_only,
        )

    def filter_endorsed_by(self, qs: Any, name: str, value: str) -> QuerySet[Measure]:
        return qs.with_current_stance(
            code=value,
            stances=ENDORSING_STANCES,
            on=self.as_of_date,
            certain_only=self.certain_only,
        )

    def filter_opposed_by(self, qs: Any, name: str, value: str) -> QuerySet[Measure]:
        return qs.with_current_stance(
            code=value,
            stances=OPPOSING_STANCES,
            on=self.as_of_date,
            certain_only=self.certain_only,
        )

    def filter_certain(self, qs: Any, name: str, value: bool | None) -> QuerySet[Measure]:
        # Read by the status, party and stance filters; it selects nothing by itself.
        return qs

    def filter_as_of(self, qs: Any, name: str, value: datetime.date) -> QuerySet[Measure]:
        # Read by the other filters and by the representation; it selects nothing by itself.
        return qs

    def filter_q(self, qs: Any, name: str, value: str) -> QuerySet[Measure]:
        # An explicit ordering replaces the rank's, and a cursor follows a column's order.
        ranked = not self.form.cleaned_data.get("ordering") and "cursor" not in self.data
        return qs.search(value, ranked=ranked)


# --- actors -------------------------------------------------------------------------------------


class ActorFilterSet(StrictFilterSet):
    kind = ListFilter(choices=Actor.Kind.choices)
    as_of = DateFilter(
        method="filter_as_of",
        help_text="Participations and current stances in an actor's detail as they "
        "stood that day. Default: today.",
    )
    ordering = OrderingFilter(fields=("code", "name", "updated_at"))

    class Meta:
        model = Actor
        fields: list[str] = []

    def filter_as_of(self, qs: Any, name: str, value: datetime.date) -> QuerySet[Actor]:
        return qs


# --- positions and events -------------------------------------------------------------------


class _DatedFilterSet(StrictFilterSet):
    measure = MeasureSlugFilter(field_name="measure__slug")
    date_after = DateFilter(field_name="date", lookup_expr="gte", help_text="Inclusive.")
    date_before = DateFilter(field_name="date", lookup_expr="lte", help_text="Inclusive.")


class PositionFilterSet(_DatedFilterSet):
    actor = ActorCodeFilter(field_name="actor__code", help_text="Actor code.")
    stance = ListFilter(choices=Position.Stance.choices)
    current = BooleanFilter(
        method="filter_current",
        help_text="`true`: only each actor's current position per measure — the latest taken "
        "by the end of `date_before` when given (the stance that held that day), else today. "
        "On a day inside the period of a position dated only to the month or year, that "
        "position and the latest certainly taken before it may both be current: both are "
        "returned, unless `certain=true`. `false`: only positions certainly superseded.",
    )
    certain = BooleanFilter(
        method="filter_certain",
        help_text="With `current=true`: `true` keeps only positions certainly current that day.",
    )
    ordering = OrderingFilter(fields=("date", "updated_at"))

    class Meta:
        model = Position
        fields: list[str] = []

    def filter_current(self, qs: Any, name: str, value: bool) -> QuerySet[Position]:
        condition = current_on(
            self.form.cleaned_data.get("date_before") or timezone.localdate(),
            certain_only=bool(self.form.cleaned_data.get("certain")),
        )
        return qs.filter(condition) if value else qs.exclude(condition)

    def filter_certain(self, qs: Any, name: str, value: bool | None) -> QuerySet[Position]:
        return qs  # read by filter_current


class EventFilterSet(_DatedFilterSet):
    actor = ActorCodeFilter(
        field_name="actor__code", help_text="Actor code: events of that actor only."
    )
    kind = ListFilter(choices=Event.Kind.choices)
    ordering = OrderingFilter(fields=("date", "updated_at"))

    class Meta:
        model = Event
        fields: list[str] = []


# --- sources and citations ------------------------------------------------------------------


class SourceURLParam(params.TextParam):
    """An http(s) URL, cleaned to its match key (``tracker.urlnorm``). One that no source can
    have (a user name in it, a port out of range, a host that is no domain name) names no
    source: 404, saying why."""

    PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://\S+$"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=2000, strip=False, **kwargs)

    def clean(self, value: Any) -> str | None:
        text = super().clean(value)
        if not text:
            return None
        if not re.search(self.PATTERN, text):  # as a schema validator tests it
            raise forms.ValidationError("Enter an http or https URL.", code="invalid")
        try:
            return url_match_key(text)
        except InvalidSourceURL as error:
            raise forms.ValidationError(
                f"No source can have this URL: {error}", code="unknown"
            ) from None

    def schema(self) -> dict[str, Any]:
        return {**super().schema(), "pattern": self.PATTERN}


class SourceURLFilter(filters.Filter):
    field_class = SourceURLParam


class SourceFilterSet(StrictFilterSet):
    health = ListFilter(choices=Source.Health.choices)
    kind = ListFilter(choices=Source.Kind.choices)
    host = HostFilter(
        method="filter_host",
        help_text="Host name: sources on that host or any of its subdomains (`un.org` also "
        "matches `www.un.org`).",
    )
    is_primary = BooleanFilter(help_text="Official sources (`true`) or the others.")
    url = SourceURLFilter(
        field_name="url_key",
        help_text="An http(s) URL: the source that cites it, in this or any spelling of the same "
        "address (host case, default port, fragment, `%7E` for `~`, tracking parameters); "
        "none or one result. `?ABM_treaty` and `?ABM_treaty=`, or `/inf` and `/inf/`, are "
        "different addresses. URL-encode the value: `?url=https%3A%2F%2Fwww.un.org%2Finf`.",
    )
    content_changed_since = InstantFilter(
        field_name="content_changed_at",
        lookup_expr="gte",
        help_text="Sources whose main text was "
        "last seen to change at or after it (page chrome and ads do not count).",
    )
    checked_since = InstantFilter(
        field_name="last_checked_at",
        lookup_expr="gte",
        help_text="Sources last checked at or after it. With `health`, "
        "for example, what broke since then: `?health=broken&checked_since=…`.",
    )
    ordering = OrderingFilter(fields=("url", "updated_at", "last_checked_at", "content_changed_at"))

    class Meta:
        model = Source
        fields: list[str] = []

    def filter_host(self, qs: Any, name: str, value: str) -> QuerySet[Source]:
        # The match key spells the host in lower case without a trailing dot, and always has a
        # path; URLs are stored as cited.
        pattern = rf"^https?://([^/?#]*\.)?{re.escape(value)}(:[0-9]+)?/"
        return qs.filter(url_key__regex=pattern)


class SourceIdParam(params.IntegerParam):
    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is not None and not Source.objects.filter(pk=value).exists():
            raise forms.ValidationError(f"There is no source with the id {value}.", code="unknown")


class SourceIdFilter(filters.Filter):
    field_class = SourceIdParam


class CitationFilterSet(StrictFilterSet):
    source = SourceIdFilter(field_name="source_id", help_text="Source id.")
    measure = MeasureSlugFilter(
        method="filter_measure",
        help_text="Measure slug: citations of the measure itself and of its events and positions.",
    )
    event = IdFilter(field_name="event_id", help_text="Event id.")
    position = IdFilter(field_name="position_id", help_text="Position id.")

    class Meta:
        model = Citation
        fields: list[str] = []

    def filter_measure(self, qs: Any, name: str, value: str) -> QuerySet[Citation]:
        # Three index lookups united, each reading only the measure's own rows. One condition
        # ORed across the joins to events and positions cannot use an index: PostgreSQL
        # hash-joins every citation with every event and every position to evaluate it.
        cited = Citation.objects.order_by()
        ids = (
            cited.filter(measure__slug=value)
            .values("pk")
            .union(
                cited.filter(event__measure__slug=value).values("pk"),
                cited.filter(position__measure__slug=value).values("pk"),
            )
        )
        return qs.filter(pk__in=ids)


class SourceCheckFilterSet(StrictFilterSet):
    outcome = ListFilter(choices=SourceCheck.Outcome.choices)
    since = InstantFilter(
        field_name="checked_at",
        lookup_expr="gte",
        help_text="Only checks made at or after it.",
    )

    class Meta:
        model = SourceCheck
        fields: list[str] = []
