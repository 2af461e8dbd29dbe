"""Query parameters of the list endpoints, one ``<Model>FilterSet`` each.

Every parameter is validated before any filtering: a malformed date, a value outside a
vocabulary, an actor code or measure slug that does not exist, or an ordering the list does not
offer is a 400 whose body names the parameter — never a silently empty or unfiltered list.
Parameters that take a vocabulary accept several values by repetition
(``?status=in_force&status=suspended``), meaning any of them.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import django_filters as filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from proposals.models import Actor, Category, Citation, Event, Measure, Position
from tracker.models import Source, SourceCheck
from tracker.urlnorm import InvalidSourceURL, url_match_key

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ENDORSING_STANCES = (Position.Stance.PROPOSES, Position.Stance.ENDORSES)
OPPOSING_STANCES = (Position.Stance.OPPOSES,)


# --- strict fields ------------------------------------------------------------------------------


class ISODateField(forms.DateField):
    """Only ``YYYY-MM-DD``: locale formats such as ``10/25/2006`` are ambiguous."""

    input_formats = ["%Y-%m-%d"]
    default_error_messages = {"invalid": "Enter a date as YYYY-MM-DD."}

    def to_python(self, value: Any) -> datetime.date | None:
        # strptime would also take 2019-1-1; the documented form has two-digit month and day.
        if isinstance(value, str) and value.strip() and not _ISO_DATE.match(value.strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class ISODateFilter(filters.DateFilter):
    field_class = ISODateField


class ActorCodeField(forms.CharField):
    default_error_messages = {"unknown": "There is no actor with the code %(code)r."}

    def clean(self, value: Any) -> str | None:
        code = (super().clean(value) or "").strip().upper()
        if not code:
            return None
        if not Actor.objects.filter(code=code).exists():
            raise forms.ValidationError(
                self.error_messages["unknown"], code="unknown", params={"code": code}
            )
        return code


class ActorCodeFilter(filters.CharFilter):
    field_class = ActorCodeField


class StrictBooleanField(forms.Field):
    """``true`` / ``false`` (also 1/0, yes/no); anything else is an error, not "no filter"."""

    values = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text not in self.values:
            raise forms.ValidationError("Enter true or false.", code="invalid")
        return self.values[text]


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField


class StrictOrderingFilter(filters.OrderingFilter):
    """Orders by the chosen fields, then by id, so pages never overlap or skip a row."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = ", ".join(
            f"{name}, -{name}" for name in self.param_map
        )  # e.g. "slug, -slug, title, -title"
        self.extra["help_text"] = f"Sort order, comma-separated: {allowed}. Ties are broken by id."
        self.extra["error_messages"] = {
            "invalid_choice": f"%(value)r is not an ordering this list offers ({allowed})."
        }

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if not value:
            return qs
        ordering = [self.get_ordering_value(param) for param in value if param]
        return qs.order_by(*ordering, "-pk" if ordering[-1].startswith("-") else "pk")


class StrictFilterSet(filters.FilterSet):
    """Also rejects a parameter given twice where only one value makes sense."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, field in self.form.fields.items():
            multiple = isinstance(field, forms.MultipleChoiceField)
            if not multiple and len(self.data.getlist(name, [])) > 1:
                self.form.add_error(name, "Give this parameter once.")
                valid = False
        return valid


# --- measures -----------------------------------------------------------------------------------


class MeasureFilterSet(StrictFilterSet):
    category = filters.MultipleChoiceFilter(
        choices=Category.Code.choices,
        method="filter_category",
        help_text="Measures in any of these categories.",
    )
    status = filters.MultipleChoiceFilter(
        choices=Measure.Status.choices,
        method="filter_status",
        help_text="Status on the `as_of` day (today when absent), derived from the events by "
        "the rules above. Measures not yet in existence that day have no status and never match.",
    )
    form = filters.MultipleChoiceFilter(choices=Measure.Form.choices, distinct=False)
    scope = filters.MultipleChoiceFilter(choices=Measure.Scope.choices, distinct=False)
    venue = filters.CharFilter(
        lookup_expr="icontains", help_text="Part of the venue's name, any case."
    )
    actor = ActorCodeFilter(
        method="filter_actor",
        help_text="Actor code (e.g. `CHN`): measures on which it acted (an event) or took a "
        "position, at any date.",
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
    as_of = ISODateFilter(
        method="filter_as_of",
        help_text="YYYY-MM-DD. Statuses, participations and current stances in the response, "
        "and the `status`, `party`, `endorsed_by` and `opposed_by` filters, as they stood that "
        "day; events after it are left out. Default: today.",
    )
    certain = StrictBooleanFilter(
        method="filter_certain",
        help_text="`true`: the `status`, `party`, `endorsed_by` and `opposed_by` filters keep "
        "only measures whose answer is certain on the `as_of` day. By default a measure whose "
        "answer is uncertain that day (it rests on an event or position dated only to the "
        "month or year, and the day falls inside that period) is returned when any of its "
        "possible values matches, marked `status_certain: false` or `certain: false`.",
    )
    changed_since = filters.IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="ISO 8601 date-time (`2024-05-01T00:00:00Z`): measures whose own fields "
        "changed at or after it. For every kind of change, deletions included, use /changes/.",
    )
    q = filters.CharFilter(
        method="filter_q",
        help_text="Text search in title, summary and venue (PostgreSQL full-text search with "
        'web-search syntax: `"crisis hotline" -nuclear`; on SQLite every word must appear).',
    )
    ordering = StrictOrderingFilter(
        fields=("slug", "title", "status", "updated_at", "created_at"),
    )

    class Meta:
        model = Measure
        fields: list[str] = []

    @property
    def as_of_date(self) -> datetime.date:
        return self.form.cleaned_data.get("as_of") or timezone.localdate()

    def filter_category(self, qs: Any, name: str, value: list[str]) -> QuerySet[Measure]:
        return qs.in_categories(value)

    @property
    def certain_only(self) -> bool:
        return bool(self.form.cleaned_data.get("certain"))

    def filter_status(self, qs: Any, name: str, value: list[str]) -> QuerySet[Measure]:
        if self.form.cleaned_data.get("as_of") is None:
            # Today's status is stored (and kept equal to the derived one): an indexed filter.
            return qs.with_stored_status(statuses=value, certain_only=self.certain_only)
        return qs.with_status_on(statuses=value, on=self.as_of_date, certain_only=self.certain_only)

    def filter_actor(self, qs: Any, name: str, value: str) -> QuerySet[Measure]:
        return qs.involving(value)

    def filter_party(self, qs: Any, name: str, value: str) -> QuerySet[Measure]:
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
        return qs.search(value)


# --- actors -------------------------------------------------------------------------------------


class ActorFilterSet(StrictFilterSet):
    kind = filters.MultipleChoiceFilter(choices=Actor.Kind.choices, distinct=False)
    as_of = ISODateFilter(
        method="filter_as_of",
        help_text="YYYY-MM-DD: participations and current stances in an actor's detail as they "
        "stood that day. Default: today.",
    )
    ordering = StrictOrderingFilter(fields=("code", "name", "updated_at"))

    class Meta:
        model = Actor
        fields: list[str] = []

    def filter_as_of(self, qs: Any, name: str, value: datetime.date) -> QuerySet[Actor]:
        return qs


# --- positions and events -------------------------------------------------------------------


class _DatedFilterSet(StrictFilterSet):
    measure = filters.ModelChoiceFilter(
        queryset=Measure.objects.all(),
        to_field_name="slug",
        help_text="Measure slug.",
    )
    date_after = ISODateFilter(
        field_name="date", lookup_expr="gte", help_text="YYYY-MM-DD, inclusive."
    )
    date_before = ISODateFilter(
        field_name="date", lookup_expr="lte", help_text="YYYY-MM-DD, inclusive."
    )


class PositionFilterSet(_DatedFilterSet):
    actor = ActorCodeFilter(field_name="actor__code", help_text="Actor code.")
    stance = filters.MultipleChoiceFilter(choices=Position.Stance.choices, distinct=False)
    current = StrictBooleanFilter(
        method="filter_current",
        help_text="`true`: only each actor's current position per measure — the latest taken "
        "by the end of `date_before` when given (the stance that held that day), else today. "
        "On a day inside the period of a position dated only to the month or year, that "
        "position and the latest certainly taken before it may both be current: both are "
        "returned, unless `certain=true`. `false`: only positions certainly superseded.",
    )
    certain = StrictBooleanFilter(
        method="filter_certain",
        help_text="With `current=true`: `true` keeps only positions certainly current that day.",
    )
    ordering = StrictOrderingFilter(fields=("date", "updated_at"))

    class Meta:
        model = Position
        fields: list[str] = []

    def filter_current(self, qs: Any, name: str, value: bool) -> QuerySet[Position]:
        current = Position.objects.current(
            on=self.form.cleaned_data.get("date_before"),
            certain_only=bool(self.form.cleaned_data.get("certain")),
        )
        ids = current.values("pk")
        return qs.filter(pk__in=ids) if value else qs.exclude(pk__in=ids)

    def filter_certain(self, qs: Any, name: str, value: bool | None) -> QuerySet[Position]:
        return qs  # read by filter_current


class EventFilterSet(_DatedFilterSet):
    actor = ActorCodeFilter(
        field_name="actor__code", help_text="Actor code: events of that actor only."
    )
    kind = filters.MultipleChoiceFilter(choices=Event.Kind.choices, distinct=False)
    ordering = StrictOrderingFilter(fields=("date", "updated_at"))

    class Meta:
        model = Event
        fields: list[str] = []


# --- sources and citations ------------------------------------------------------------------


_HOST = re.compile(r"^[a-z0-9.-]+$")


class HostField(forms.CharField):
    def clean(self, value: Any) -> str | None:
        host = (super().clean(value) or "").strip().lower().rstrip(".")
        if not host:
            return None
        if not _HOST.match(host):
            raise forms.ValidationError("Enter a host name such as www.un.org.")
        return host


class HostFilter(filters.CharFilter):
    field_class = HostField


class SourceURLField(forms.CharField):
    """An http(s) URL, cleaned to its match key (``tracker.urlnorm``)."""

    def clean(self, value: Any) -> str | None:
        text = super().clean(value)
        if not text:
            return None
        try:
            return url_match_key(text)
        except InvalidSourceURL as error:
            raise forms.ValidationError(str(error)) from None


class SourceURLFilter(filters.CharFilter):
    field_class = SourceURLField


class SourceFilterSet(StrictFilterSet):
    health = filters.MultipleChoiceFilter(choices=Source.Health.choices, distinct=False)
    kind = filters.MultipleChoiceFilter(choices=Source.Kind.choices, distinct=False)
    host = HostFilter(
        method="filter_host",
        help_text="Host name: sources on that host or any of its subdomains (`un.org` also "
        "matches `www.un.org`).",
    )
    is_primary = StrictBooleanFilter(help_text="`true` or `false`.")
    url = SourceURLFilter(
        field_name="url_key",
        help_text="An http(s) URL: the source that cites it, in this or any spelling of the same "
        "address (host case, default port, fragment, `%7E` for `~`, tracking parameters); "
        "none or one result. `?ABM_treaty` and `?ABM_treaty=`, or `/inf` and `/inf/`, are "
        "different addresses. URL-encode the value: `?url=https%3A%2F%2Fwww.un.org%2Finf`.",
    )
    content_changed_since = filters.IsoDateTimeFilter(
        field_name="content_changed_at",
        lookup_expr="gte",
        help_text="ISO 8601 date-time (`2026-11-23T00:00:00Z`): sources whose main text was "
        "last seen to change at or after it (page chrome and ads do not count).",
    )
    checked_since = filters.IsoDateTimeFilter(
        field_name="last_checked_at",
        lookup_expr="gte",
        help_text="ISO 8601 date-time: sources last checked at or after it. With `health`, "
        "for example, what broke since then: `?health=broken&checked_since=…`.",
    )
    ordering = StrictOrderingFilter(
        fields=("url", "updated_at", "last_checked_at", "content_changed_at")
    )

    class Meta:
        model = Source
        fields: list[str] = []

    def filter_host(self, qs: Any, name: str, value: str) -> QuerySet[Source]:
        # Stored URLs are normalized: lower-case scheme and host, default port dropped.
        pattern = rf"^https?://([^/?#]*\.)?{re.escape(value)}(:[0-9]+)?([/?#]|$)"
        return qs.filter(url__iregex=pattern)


class CitationFilterSet(StrictFilterSet):
    source = filters.ModelChoiceFilter(queryset=Source.objects.all(), help_text="Source id.")
    measure = filters.ModelChoiceFilter(
        queryset=Measure.objects.all(),
        to_field_name="slug",
        method="filter_measure",
        help_text="Measure slug: citations of the measure itself and of its events and positions.",
    )
    event = filters.NumberFilter(field_name="event_id", help_text="Event id.")
    position = filters.NumberFilter(field_name="position_id", help_text="Position id.")

    class Meta:
        model = Citation
        fields: list[str] = []

    def filter_measure(self, qs: Any, name: str, value: Measure) -> QuerySet[Citation]:
        return qs.filter(Q(measure=value) | Q(event__measure=value) | Q(position__measure=value))


class SourceCheckFilterSet(StrictFilterSet):
    outcome = filters.MultipleChoiceFilter(choices=SourceCheck.Outcome.choices, distinct=False)
    since = filters.IsoDateTimeFilter(
        field_name="checked_at",
        lookup_expr="gte",
        help_text="ISO 8601 date-time: only checks made at or after it.",
    )

    class Meta:
        model = SourceCheck
        fields: list[str] = []
