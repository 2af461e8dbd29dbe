"""Curation screens. The stored status follows every write of events, parties and scope
(``proposals.derived``), whichever screen makes it; eager loading comes from the models'
QuerySets.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.forms.fields import InvalidJSONInput
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import ModelChange, ModelDelta

from proposals import admin_quality
from proposals.admin_widgets import PreloadedAutocompleteInline
from proposals.json_limits import MAX_STORED_DEPTH
from proposals.models import Actor, Category, Citation, Event, Measure, MeasureParty, Position
from proposals.votes import (
    PARAMETER,
    VotesFileError,
    VotesImportError,
    read_votes_csv,
    votes_import,
)


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


class EventInline(PreloadedAutocompleteInline):
    model = Event
    extra = 0
    autocomplete_fields = ["actor"]
    fields = ["date", "date_precision", "kind", "actor", "certainty", "scope_note"]
    show_change_link = True  # citations of an event are edited on the event's own page

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        return super().get_queryset(request).select_related("actor")


class PositionInline(PreloadedAutocompleteInline):
    model = Position
    extra = 0
    autocomplete_fields = ["actor"]
    fields = ["date", "date_precision", "actor", "stance", "quote"]
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Position]:
        return super().get_queryset(request).select_related("actor")


class JSONText(forms.JSONField):
    """The admin's JSON text box: a value nested past Python's recursion limit is a form error
    (the model's own check then bounds the depth that may be stored), not a server error."""

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except RecursionError:
            raise forms.ValidationError(
                f"JSON may be nested at most {MAX_STORED_DEPTH} levels deep."
            ) from None

    def bound_data(self, data: Any, initial: Any) -> Any:
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return InvalidJSONInput(data)  # shown back as typed, with the error


JSON_AS_TEXT = {models.JSONField: {"form_class": JSONText}}


@admin.register(Measure)
class MeasureAdmin(SimpleHistoryAdmin):
    formfield_overrides = JSON_AS_TEXT
    list_display = ["title", "slug", "status", "form", "scope", "category_list", "updated_at"]
    list_filter = ["categories", "status", "form", "scope", "venue"]
    search_fields = ["title", "slug", "summary", "venue"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["parent"]
    filter_horizontal = ["categories"]
    readonly_fields = ["status", "status_rule_note", "created_at", "updated_at"]
    inlines = [PartyInline, EventInline, PositionInline, MeasureCitationInline]
    fieldsets = [
        (None, {"fields": ["title", "slug", "summary", "categories"]}),
        ("Form", {"fields": ["form", "scope", "venue", "parent", "parameters"]}),
        ("Derived", {"fields": ["status", "status_rule_note", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Measure]:
        return Measure.objects.for_admin_list()

    @admin.display(description="categories")
    def category_list(self, obj: Measure) -> str:
        return ", ".join(category.code for category in obj.categories.all())

    @admin.display(description="how the status is set")
    def status_rule_note(self, obj: Measure) -> str:
        return (
            "Derived from the measure-wide events below (entry into force, suspension, expiry, "
            "termination …) and recomputed whenever they change and daily."
        )

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


@admin.register(Event)
class EventAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "measure", "kind", "date", "actor", "certainty"]
    list_filter = ["kind", "certainty", "date_precision"]
    search_fields = ["measure__title", "measure__slug", "actor__code", "actor__name"]
    autocomplete_fields = ["measure", "actor"]
    list_select_related = ()  # eager loading comes from get_queryset
    date_hierarchy = "date"
    inlines = [EventCitationInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        # The same eager loading as the API's, from the model's QuerySet.
        return super().get_queryset(request).with_related()


@admin.register(Position)
class PositionAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "measure", "actor", "stance", "date"]
    list_filter = ["stance", "date_precision"]
    search_fields = ["measure__title", "measure__slug", "actor__code", "actor__name", "quote"]
    autocomplete_fields = ["measure", "actor"]
    list_select_related = ()  # eager loading comes from get_queryset
    date_hierarchy = "date"
    inlines = [PositionCitationInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Position]:
        return super().get_queryset(request).with_related()

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


@admin.register(Actor)
class ActorAdmin(SimpleHistoryAdmin):
    formfield_overrides = JSON_AS_TEXT
    list_display = ["code", "name", "kind", "successor"]
    list_filter = ["kind"]
    search_fields = ["code", "name", "aliases"]
    autocomplete_fields = ["successor"]
    list_select_related = ()  # eager loading comes from get_queryset

    def get_queryset(self, request: HttpRequest) -> QuerySet[Actor]:
        return super().get_queryset(request).with_related()


@admin.register(Citation)
class CitationAdmin(SimpleHistoryAdmin):
    list_display = ["source", "measure", "event", "position", "locator"]
    search_fields = ["source__url", "source__title", "quote", "locator"]
    autocomplete_fields = ["source", "measure"]
    raw_id_fields = ["event", "position"]
    list_select_related = ()  # eager loading comes from get_queryset

    def get_queryset(self, request: HttpRequest) -> QuerySet[Citation]:
        return super().get_queryset(request).with_related()


admin_quality.install(admin.site)
