"""Autocomplete without one query per inline row.

Django's autocomplete widget looks up the label of its selected option with a query of its own,
so an inline of fifty events runs fifty actor queries. The inline's rows already hold the related
object (their QuerySet uses ``select_related``); this form hands it to the widget.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.db import models


class PreloadedAutocompleteSelect(AutocompleteSelect):
    preloaded: models.Model | None = None

    def optgroups(self, name: str, value: Any, attr: Any = None) -> Any:
        selected = {str(v) for v in value if str(v) not in self.choices.field.empty_values}
        related = self.preloaded
        if related is None or selected != {str(related.pk)}:
            return super().optgroups(name, value, attr)
        options = []
        if not self.is_required:
            options.append(self.create_option(name, "", "", False, 0))
        label = self.choices.field.label_from_instance(related)
        options.append(self.create_option(name, related.pk, label, True, len(options)))
        return [(None, options, 0)]


class PreloadedRelationsForm(forms.ModelForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            widget = getattr(field.widget, "widget", field.widget)
            if not isinstance(widget, PreloadedAutocompleteSelect):
                continue
            model_field = self.instance._meta.get_field(name)
            if self.instance.pk and model_field.is_cached(self.instance):
                widget.preloaded = getattr(self.instance, name)


class PreloadedAutocompleteInline(admin.TabularInline):
    """An inline whose autocomplete fields use the rows' already-loaded related objects."""

    form = PreloadedRelationsForm

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: Any, **kwargs: Any
    ) -> Any:
        if db_field.name in self.autocomplete_fields:
            kwargs.setdefault(
                "widget",
                PreloadedAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using")),
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
