"""Curation screens. The stored status follows every write of events, parties and scope
(``proposals.derived``), whichever screen makes it; eager loading comes from the models'
QuerySets.

A measure's page is the curator's workspace: its events and positions with their citations
(removed by a tick, added by the source's URL), what the rules derive today (status and each
actor's participation), its timeline, its data-quality findings and the health of its sources
(``docs/curation.md``).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import ModelChange, ModelDelta

from common import palette
from common.admin_concurrency import OptimisticLockAdmin
from proposals import admin_quality, quality, services
from proposals import status as rules
from proposals.admin_widgets import (
    STATUS_COLOURS,
    CiteByURLField,
    KeyValueField,
    LinesField,
    PreloadedAutocompleteInline,
    PreloadedRelationsForm,
    badge,
    state_choices,
)
from proposals.models import (
    Actor,
    ActorQuerySet,
    Category,
    Certainty,
    Citation,
    CitationQuerySet,
    DatePrecision,
    Event,
    EventQuerySet,
    Measure,
    MeasureParty,
    Position,
    PositionQuerySet,
    rule_inputs,
)
from proposals.votes import (
    PARAMETER,
    VotesFileError,
    VotesImportError,
    read_votes_csv,
    votes_import,
)
from tracker.models import Source
from tracker.urlnorm import InvalidSourceURL, url_match_key


def _count_of(model: type[Event] | type[Position]) -> Coalesce:
    rows = model.objects.filter(measure=OuterRef("pk")).order_by().values("measure")
    counted = rows.annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


# The query parameter that marks a fact's own page as opened from its measure's page: saving it
# then returns there.
FROM_MEASURE = "from_measure"

WORKSPACE_MEDIA = forms.Media(css={"all": ["admin/proposals/workspace.css"]})


class CitationInline(PreloadedAutocompleteInline):
    model = Citation
    extra = 0
    autocomplete_fields = ["source"]
    fields = ["source", "locator", "quote"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Citation]:
        return super().get_queryset(request).select_related("source")


class MeasureCitationInline(CitationInline):
    fk_name = "measure"
    verbose_name = "citation of the measure"
    verbose_name_plural = "citations of the measure"


class EventCitationInline(CitationInline):
    fk_name = "event"


class PositionCitationInline(CitationInline):
    fk_name = "position"


class PartyInline(PreloadedAutocompleteInline):
    model = MeasureParty
    extra = 0
    autocomplete_fields = ["actor"]
    verbose_name = "named party"
    verbose_name_plural = (
        "named parties (a measure-wide signature or entry into force reaches each)"
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[MeasureParty]:
        return super().get_queryset(request).select_related("actor")


def _citation_label(citation: Citation) -> str:
    source = citation.source
    where = f" · {citation.locator}" if citation.locator else ""
    return f"{source.url}{where} [{source.get_health_display()}]"


class FactRowForm(PreloadedRelationsForm):
    """An event or position row of the measure page with its citations: tick one to remove it,
    or cite a source by its URL (matched to a known source in any spelling, else created, when
    the page is saved — ``proposals.services``, as the API does)."""

    uncite = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="citations (tick to remove)",
    )
    cite = CiteByURLField(
        label="cite by URL",
        help_text="The address of a source backing this fact, where in it (page, article) and "
        "what it says. A source already known under another spelling of the URL is reused.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The rows come with their citations and sources (the inline's QuerySet).
        self.citations = list(self.instance.citations.all()) if self.instance.pk else []
        uncite = cast(forms.MultipleChoiceField, self.fields["uncite"])
        uncite.choices = [(str(c.pk), _citation_label(c)) for c in self.citations]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        cite = data.get("cite")
        if not cite:
            return data
        # The checks the service makes of a new source, here so that the page shows them.
        try:
            key = url_match_key(cite["url"])
            Source(url=cite["url"], url_key=key).clean_fields()
            Source(url=cite["url"]).clean_url()
        except InvalidSourceURL as error:
            self.add_error("cite", str(error))
            return data
        except ValidationError as error:
            self.add_error("cite", error.messages)
            return data
        removed = set(data.get("uncite") or ())
        for citation in self.citations:
            if (
                str(citation.pk) not in removed
                and citation.source.url_key == key
                and citation.locator == cite["locator"]
            ):
                self.add_error("cite", "This source is already cited here at this locator.")
        return data

    def citation_items(self) -> list[dict[str, Any]] | None:
        """The row's complete new list of citations, as the services take it; ``None`` when
        the curator changed none."""
        removed = set(self.cleaned_data.get("uncite") or ())
        cite = self.cleaned_data.get("cite")
        if not removed and not cite:
            return None
        items: list[dict[str, Any]] = [
            {"source": c.source, "locator": c.locator, "quote": c.quote}
            for c in self.citations
            if str(c.pk) not in removed
        ]
        if cite:
            items.append(cite)
        return items


class FactInline(PreloadedAutocompleteInline):
    """Events or positions on the measure's page, each with its citations in place."""

    form = FactRowForm
    extra = 0
    autocomplete_fields = ["actor"]
    readonly_fields = ["own_page"]

    @admin.display(description="")
    def own_page(self, obj: Event | Position) -> str:
        if obj.pk is None:
            return ""
        meta = obj._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
        return format_html('<a href="{}?{}=1">Own page</a>', url, FROM_MEASURE)


class EventInline(FactInline):
    model = Event
    fields = [
        "date",
        "date_precision",
        "kind",
        "actor",
        "certainty",
        "scope_note",
        "uncite",
        "cite",
        "own_page",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        rows = cast(EventQuerySet, super().get_queryset(request))
        return rows.select_related("actor").with_citations()


class PositionInline(FactInline):
    model = Position
    fields = ["date", "date_precision", "actor", "stance", "quote", "uncite", "cite", "own_page"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Position]:
        rows = cast(PositionQuerySet, super().get_queryset(request))
        return rows.select_related("actor").with_citations()


class ReturnsToMeasure(admin.ModelAdmin):
    """A fact's own page opened from its measure's page goes back there when saved."""

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        response = super().response_change(request, obj)
        if not request.GET.get(FROM_MEASURE) or not isinstance(response, HttpResponseRedirect):
            return response
        if "_continue" in request.POST:
            response["Location"] = f"{request.path}?{FROM_MEASURE}=1"
        elif not {"_addanother", "_saveasnew", IS_POPUP_VAR} & request.POST.keys():
            response["Location"] = reverse("admin:proposals_measure_change", args=[obj.measure_id])
        return response


# --- what the measure's page derives -----------------------------------------------------------


@dataclass(frozen=True)
class DerivedToday:
    """What the rules derive for a measure today (``proposals.status``, as the API)."""

    status: rules.Answer[rules.MeasureStatus]
    participations: dict[str, rules.Answer[rules.Participation]]
    events: list[rules.EventFact]


def derived_today(measure: Measure) -> DerivedToday:
    """Four queries: the rules' inputs (parties, scope, events) and the successor map."""
    facts, inputs = rule_inputs([measure.pk])[measure.pk]
    on, successor_of = timezone.localdate(), Actor.objects.successor_map()
    return DerivedToday(
        status=rules.status_on(facts, on=on, measure=inputs, successor_of=successor_of),
        participations=rules.participations_on(
            facts, on=on, measure=inputs, successor_of=successor_of
        ),
        events=facts,
    )


def measure_findings(measure: Measure) -> list[quality.Finding]:
    """The data-quality findings of one measure and its facts: the queue's rules, read through
    the measure's own rows."""
    return quality.findings_for_measure(measure)


def _answer_badges(answer: rules.Answer[Any], colours: dict[str, str], labels: Any) -> SafeString:
    """The derived value as a badge; while uncertain, every value it may have."""

    def one(value: Any) -> SafeString:
        if value is None:
            return badge("none yet", palette.LIGHT_GREY)
        return badge(labels(value), colours.get(str(value), palette.LIGHT_GREY))

    if answer.certain:
        shown = one(answer.value)
    else:
        shown = format_html(
            "possibly {}", format_html_join(" or ", "{}", ((one(v),) for v in answer.possible))
        )
    if answer.basis and answer.basis != Certainty.CONFIRMED:
        shown = format_html("{} <small>(on {} facts)</small>", shown, answer.basis)
    return shown


def _status_label(value: Any) -> str:
    return str(Measure.Status(str(value)).label)


def _participation_label(value: Any) -> str:
    return str(value).capitalize()


def summary_of(derived: DerivedToday) -> str:
    """The derived status and participations in words (the message after a save)."""

    def words(answer: rules.Answer[Any], label: Any) -> str:
        values = [label(v) if v is not None else "none yet" for v in answer.possible]
        return values[0] if answer.certain else "possibly " + " or ".join(values)

    status = words(derived.status, _status_label)
    parts = ", ".join(
        f"{code} {words(answer, _participation_label).lower()}"
        for code, answer in sorted(derived.participations.items())
    )
    return f"Derived today: status {status}; " + (
        f"participations: {parts}." if parts else "no participations."
    )


class MeasureForm(forms.ModelForm):
    parameters = KeyValueField(
        required=False,
        help_text="Facts about the measure, one per row: a name (range_km) and a value — a "
        "number, text, or a list such as [500, 5500]. Text that reads as a number is kept as a "
        'number; write it in quotes ("500") to keep it text. Empty the name and value to '
        "remove a row.",
    )

    class Meta:
        model = Measure
        fields = "__all__"  # noqa: DJ007 (the admin's fieldsets choose)


@admin.register(Measure)
class MeasureAdmin(OptimisticLockAdmin, SimpleHistoryAdmin):
    form = MeasureForm
    list_display = [
        "title",
        "status_badge",
        "form_and_scope",
        "category_list",
        "event_count",
        "position_count",
        "updated_on",
    ]
    list_filter = ["categories", "status", "form", "scope", "venue"]
    search_fields = ["title", "slug", "summary", "venue"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["parent"]
    filter_horizontal = ["categories"]
    readonly_fields = [
        "status_today",
        "participations_today",
        "status_rule_note",
        "timeline",
        "quality_findings",
        "source_health",
        "created_at",
        "updated_at",
    ]
    inlines = [PartyInline, EventInline, PositionInline, MeasureCitationInline]
    fieldsets = [
        (None, {"fields": ["title", "slug", "summary", "categories"]}),
        ("Form", {"fields": ["form", "scope", "venue", "parent", "parameters"]}),
        (
            "Derived today",
            {
                "fields": [
                    "status_today",
                    "participations_today",
                    "status_rule_note",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        ("Timeline", {"fields": ["timeline"]}),
        ("Data quality", {"fields": ["quality_findings"]}),
        ("Sources cited", {"fields": ["source_health"]}),
    ]

    @property
    def media(self) -> forms.Media:
        return super().media + WORKSPACE_MEDIA

    def get_queryset(self, request: HttpRequest) -> QuerySet[Measure]:
        # The changelist's counts, one subquery each per row of the page.
        return Measure.objects.for_admin_list().annotate(
            event_count=_count_of(Event), position_count=_count_of(Position)
        )

    # --- the changelist ---

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Measure) -> SafeString:
        if obj.status:
            return badge(obj.get_status_display(), STATUS_COLOURS[obj.status])
        if obj.status_possible:
            values = [v for v in obj.status_possible.strip(",").split(",") if v != "none"]
            labels = " or ".join(_status_label(v) for v in values) or "none yet"
            return badge(f"uncertain: {labels}", palette.LIGHT_GREY)
        return badge("none yet", palette.LIGHT_GREY)

    @admin.display(description="form", ordering="form")
    def form_and_scope(self, obj: Measure) -> str:
        return f"{obj.get_form_display()}, {obj.get_scope_display().lower()}"

    @admin.display(description="categories")
    def category_list(self, obj: Measure) -> str:
        return ", ".join(category.code for category in obj.categories.all())

    @admin.display(description="events", ordering="event_count")
    def event_count(self, obj: Any) -> int:
        return int(obj.event_count)

    @admin.display(description="positions", ordering="position_count")
    def position_count(self, obj: Any) -> int:
        return int(obj.position_count)

    @admin.display(description="updated", ordering="updated_at")
    def updated_on(self, obj: Measure) -> str:
        return obj.updated_at.date().isoformat()

    # --- the measure's page ---

    def _derived(self, obj: Measure) -> DerivedToday:
        # Computed once for the page's read-only fields, which share the form's instance.
        cached = getattr(obj, "_derived_today", None)
        if cached is None:
            cached = derived_today(obj)
            obj._derived_today = cached  # type: ignore[attr-defined]
        return cast(DerivedToday, cached)

    @admin.display(description="status")
    def status_today(self, obj: Measure) -> str:
        if obj.pk is None:
            return "Derived from the events once the measure is saved."
        return _answer_badges(self._derived(obj).status, STATUS_COLOURS, _status_label)

    @admin.display(description="participations")
    def participations_today(self, obj: Measure) -> str:
        if obj.pk is None:
            return "—"
        answers = self._derived(obj).participations
        if not answers:
            return "No actor takes part yet."
        names = dict(Actor.objects.filter(code__in=answers).values_list("code", "name"))
        rows = (
            (code, names.get(code, ""), _answer_badges(answer, palette.PARTICIPATION, str.title))
            for code, answer in sorted(answers.items())
        )
        return format_html(
            '<table class="tracker-participations"><thead><tr><th scope="col">Actor</th>'
            '<th scope="col">Today</th></tr></thead><tbody>{}</tbody></table>',
            format_html_join("", "<tr><td>{} {}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="how the status is set")
    def status_rule_note(self, obj: Measure) -> str:
        return (
            "Derived from the events and named parties (entry into force, suspension, "
            "withdrawal, expiry, termination …), by the same rules as the API, and recomputed "
            "whenever they change and daily."
        )

    @admin.display(description="timeline")
    def timeline(self, obj: Measure) -> str:
        if obj.pk is None:
            return "—"
        events = self._derived(obj).events
        listed = f"{reverse('admin:proposals_event_changelist')}?measure={obj.pk}"
        if events:
            dates = sorted(event.date for event in events)
            span = (
                f"1 event, on {dates[0].isoformat()}"
                if len(events) == 1
                else f"{len(events)} events from {dates[0].isoformat()} to {dates[-1].isoformat()}"
            )
            alt = (
                f"Timeline of {obj.title}: {span}, one lane per actor and one for the measure "
                "itself."
            )
        else:
            alt = f"Timeline of {obj.title}: no events yet."
        picture = reverse("measure-detail", kwargs={"slug": obj.slug}) + "timeline.svg"
        return format_html(
            '<figure class="tracker-timeline"><img src="{}" alt="{}">'
            '<figcaption>The same as text: <a href="{}">{}, as a list</a>.'
            "</figcaption></figure>",
            picture,
            alt,
            listed,
            "the event" if len(events) == 1 else f"the {len(events)} events",
        )

    @admin.display(description="findings")
    def quality_findings(self, obj: Measure) -> str:
        if obj.pk is None:
            return "—"
        found = measure_findings(obj)
        if not found:
            return "No data-quality rule finds anything to fix."
        titles = {rule.id: rule.title for rule in quality.RULES}
        return format_html(
            '<ul class="tracker-findings">{}</ul>',
            format_html_join(
                "",
                '<li><strong>{}</strong>: <a href="{}">{}</a> — {}</li>',
                ((titles[f.rule], quality.admin_path(f), f.label, f.reason) for f in found),
            ),
        )

    @admin.display(description="health of each source")
    def source_health(self, obj: Measure) -> str:
        if obj.pk is None:
            return "—"
        cited = Citation.objects.filter(
            Q(measure=obj) | Q(event__measure=obj) | Q(position__measure=obj)
        ).values("source_id")
        sources = Source.objects.filter(pk__in=cited).order_by("url")
        rows = [
            (
                badge(source.get_health_display(), palette.HEALTH[source.health]),
                reverse("admin:tracker_source_change", args=[source.pk]),
                source.display_title or source.url,
                source.host,
                source.last_checked_at.date().isoformat() if source.last_checked_at else "never",
            )
            for source in sources
        ]
        if not rows:
            return "Nothing cited yet."
        return format_html(
            '<table class="tracker-sources"><thead><tr><th scope="col">Health</th>'
            '<th scope="col">Source</th><th scope="col">Host</th><th scope="col">Checked</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                '<tr><td>{}</td><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>',
                rows,
            ),
        )

    # --- saving ---

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model not in (Event, Position):
            return
        for row in formset.forms:
            if not isinstance(row, FactRowForm) or row.instance.pk is None:
                continue
            if formset.can_delete and formset._should_delete_form(row):
                continue
            items = row.citation_items()
            if items is None:
                continue
            # The API's write of a fact's citations: sources matched by URL key or created, in
            # the page's transaction.
            if isinstance(row.instance, Event):
                services.event_update(
                    event=row.instance, user=request.user, fields={}, citations=items
                )
            else:
                services.position_update(
                    position=row.instance, user=request.user, fields={}, citations=items
                )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        self.message_user(request, summary_of(derived_today(form.instance)), messages.INFO)

    def set_history_delta_changes(
        self,
        request: HttpRequest,
        historical_records: Sequence[Any],
        foreign_keys_are_objs: bool = True,
    ) -> None:
        """The history page's before/after, with category and party changes read in one query
        each.

        The stock diff reads each many-to-many field of every version with two queries per
        version.
        """
        records = list(historical_records)
        history_ids = [r.history_id for r in records]
        # {field: {history id: rows in the shape the history template expects}}
        lists: dict[str, dict[int, list[dict[str, str]]]] = {}
        for name, history_field, column, shown in (
            ("categories", "historicalmeasure_categories", "category", "category"),
            ("parties", "historicalmeasureparty", "actor", "actor__code"),
        ):
            through = Measure.history.model._meta.get_field(history_field).related_model
            rows = through.objects.filter(history__in=history_ids).order_by(shown)
            lists[name] = defaultdict(list)
            for history_id, value in rows.values_list("history", shown):
                lists[name][history_id].append({column: value})
        for newer, older in itertools.pairwise(records):
            delta = newer.diff_against(
                older,
                excluded_fields=list(lists),
                foreign_keys_are_objs=foreign_keys_are_objs,
            )
            for name, values in lists.items():
                before, after = values[older.history_id], values[newer.history_id]
                if before != after:
                    delta = ModelDelta(
                        changes=[*delta.changes, ModelChange(name, before, after)],
                        changed_fields=[*delta.changed_fields, name],
                        old_record=delta.old_record,
                        new_record=delta.new_record,
                    )
            helper = self.get_historical_record_context_helper(request, newer)
            newer.history_delta_changes = helper.context_for_delta_changes(delta)


class FactListColumns:
    """The columns an event or position list shares, narrow enough for a 1366-pixel window."""

    @admin.display(description="date", ordering="date")
    def date_shown(self, obj: Event | Position) -> str:
        """The date as precise as it is known: 1987-12-08, December 1987 or 1987."""
        if obj.date_precision == DatePrecision.YEAR:
            return str(obj.date.year)
        if obj.date_precision == DatePrecision.MONTH:
            return obj.date.strftime("%B %Y")
        return obj.date.isoformat()

    @admin.display(description="actor", ordering="actor__code")
    def actor_code(self, obj: Event | Position) -> str:
        return obj.actor.code if obj.actor_id and obj.actor else "(the measure)"

    @admin.display(description="measure", ordering="measure__title")
    def measure_title(self, obj: Event | Position) -> str:
        return obj.measure.title

    @admin.display(description="citations", ordering="citation_count")
    def citation_count(self, obj: Any) -> int:
        return int(obj.citation_count)


def _citation_count(target: str) -> Coalesce:
    rows = Citation.objects.filter(**{target: OuterRef("pk")}).order_by().values(target)
    counted = rows.annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


@admin.register(Event)
class EventAdmin(OptimisticLockAdmin, FactListColumns, ReturnsToMeasure, SimpleHistoryAdmin):
    list_display = [
        "date_shown",
        "kind",
        "actor_code",
        "measure_title",
        "certainty",
        "citation_count",
    ]
    list_filter = ["kind", "certainty", "date_precision"]
    search_fields = ["measure__title", "measure__slug", "actor__code", "actor__name"]
    autocomplete_fields = ["measure", "actor"]
    list_select_related = ()  # eager loading comes from get_queryset
    date_hierarchy = "date"
    inlines = [EventCitationInline]

    @property
    def media(self) -> forms.Media:
        return super().media + WORKSPACE_MEDIA

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        # The same eager loading as the API's, from the model's QuerySet; the list's count.
        rows = cast(EventQuerySet, super().get_queryset(request)).with_related()
        return rows.annotate(citation_count=_citation_count("event"))


@admin.register(Position)
class PositionAdmin(OptimisticLockAdmin, FactListColumns, ReturnsToMeasure, SimpleHistoryAdmin):
    list_display = [
        "date_shown",
        "actor_code",
        "stance_badge",
        "measure_title",
        "certainty",
        "citation_count",
    ]
    list_filter = ["stance", "date_precision"]
    search_fields = ["measure__title", "measure__slug", "actor__code", "actor__name", "quote"]
    autocomplete_fields = ["measure", "actor"]
    list_select_related = ()  # eager loading comes from get_queryset
    date_hierarchy = "date"
    inlines = [PositionCitationInline]

    @property
    def media(self) -> forms.Media:
        return super().media + WORKSPACE_MEDIA

    def get_queryset(self, request: HttpRequest) -> QuerySet[Position]:
        rows = cast(PositionQuerySet, super().get_queryset(request)).with_related()
        return rows.annotate(citation_count=_citation_count("position"))

    @admin.display(description="stance", ordering="stance")
    def stance_badge(self, obj: Position) -> SafeString:
        return badge(obj.get_stance_display(), palette.STANCE[obj.stance])

    def get_urls(self) -> list[URLPattern]:
        upload = path(
            "import-votes/",
            self.admin_site.admin_view(self.import_votes_view),
            name="proposals_position_import_votes",
        )
        return [upload, *super().get_urls()]

    def import_votes_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a UN voting-record CSV: the same import as ``manage.py import_votes``, with
        the curator as the author of every write."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportVotesForm(request.POST or None, request.FILES or None)
        report, problems = None, []
        if request.method == "POST" and form.is_valid():
            try:
                report = votes_import(
                    resolutions=read_votes_csv(form.cleaned_data["text"]),
                    user=request.user,
                    measure=form.cleaned_data["measure"],
                    create_measures=form.cleaned_data["create_measures"],
                    category=form.cleaned_data["category"],
                )
            except VotesFileError as error:
                problems = error.problems
            except VotesImportError as error:
                problems = [str(error)]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import recorded UN votes",
            "form": form,
            "report": report,
            "problems": problems,
            "parameter": PARAMETER,
        }
        return TemplateResponse(request, "admin/proposals/position/import_votes.html", context)


class ImportVotesForm(forms.Form):
    file = forms.FileField(
        help_text="CSV: the UN Digital Library voting-data export, or the columns "
        "resolution, date, country, vote."
    )
    measure = forms.SlugField(
        required=False,
        help_text="Slug of one measure to take every resolution of the file. Empty: each "
        f'resolution goes to the measures whose parameters["{PARAMETER}"] list its symbol.',
    )
    create_measures = forms.BooleanField(
        required=False,
        help_text="Create a proposal measure (multilateral, UN General Assembly) for each "
        "resolution no measure lists.",
    )
    category = forms.ChoiceField(
        choices=Category.Code.choices,
        initial=Category.Code.OTHER,
        help_text="Category of the measures created.",
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        try:
            self.cleaned_data["text"] = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None
        return upload

    def clean_measure(self) -> Measure | None:
        slug = self.cleaned_data["measure"]
        if not slug:
            return None
        measure = Measure.objects.filter(slug=slug).first()
        if measure is None:
            raise forms.ValidationError(f"No measure with the slug {slug!r}.")
        return measure


class ActorForm(forms.ModelForm):
    """A state's code is picked from the list of countries (former states included); an
    organization's is typed. The model still checks either."""

    country = forms.ChoiceField(
        required=False,
        choices=state_choices,
        label="country",
        help_text="For a state: its ISO 3166 code is taken from here (former states such as "
        "the Soviet Union included).",
    )
    aliases = LinesField(
        required=False, help_text="Other names, one per line, as written (Mongol Uls)."
    )

    class Meta:
        model = Actor
        fields = ["kind", "country", "code", "name", "aliases", "successor"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].required = False
        self.fields["code"].help_text = (
            "For an organization: a short upper-case code (NATO, G20). For a state, leave it "
            "empty and pick the country."
        )
        if self.instance.pk and self.instance.kind == Actor.Kind.STATE:
            self.initial.setdefault("country", self.instance.code)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        country, code = data.get("country"), (data.get("code") or "").strip().upper()
        if data.get("kind") == Actor.Kind.STATE:
            if country:
                data["code"] = country
            elif not code:
                self.add_error("country", "Pick the state's country.")
        elif not code:
            self.add_error("code", "Type the organization's code (NATO, G20).")
        return data


@admin.register(Actor)
class ActorAdmin(OptimisticLockAdmin, SimpleHistoryAdmin):
    form = ActorForm
    fields = ["kind", "country", "code", "name", "aliases", "successor"]
    list_display = ["code", "name", "kind", "successor"]
    list_filter = ["kind"]
    search_fields = ["code", "name", "aliases"]
    autocomplete_fields = ["successor"]
    list_select_related = ()  # eager loading comes from get_queryset

    def get_queryset(self, request: HttpRequest) -> QuerySet[Actor]:
        return cast(ActorQuerySet, super().get_queryset(request)).with_related()


@admin.register(Citation)
class CitationAdmin(OptimisticLockAdmin, SimpleHistoryAdmin):
    list_display = ["source", "measure", "event", "position", "locator"]
    search_fields = ["source__url", "source__title", "quote", "locator"]
    autocomplete_fields = ["source", "measure"]
    raw_id_fields = ["event", "position"]
    list_select_related = ()  # eager loading comes from get_queryset

    def get_queryset(self, request: HttpRequest) -> QuerySet[Citation]:
        return cast(CitationQuerySet, super().get_queryset(request)).with_related()


admin_quality.install(admin.site)
