"""The admin's own widgets and form fields.

- Autocomplete without one query per inline row. Django's autocomplete widget looks up the label
  of its selected option with a query of its own, so an inline of fifty events runs fifty actor
  queries. The inline's rows already hold the related object (their QuerySet uses
  ``select_related``); ``PreloadedRelationsForm`` hands it to the widget.
- Badges: a label on a colour of ``common.palette``.
- Fields a curator fills without writing JSON: a list of names one per line, an object as rows
  of name and value, a country picker, a citation typed as a URL.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.db import models
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django_countries import countries

from common import palette
from proposals.json_limits import MAX_STORED_DEPTH
from proposals.models import HISTORICAL_STATE_CODES


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


# --- badges ------------------------------------------------------------------------------------

# A measure's status in the colours its participants' participations use (common.palette): in
# force as a party, signed as a signatory, suspended, ended; proposed and rejected apart.
STATUS_COLOURS: dict[str, str] = {
    "proposed": palette.LIGHT_GREY,
    "signed": palette.PARTICIPATION["signatory"],
    "in_force": palette.PARTICIPATION["party"],
    "suspended": palette.PARTICIPATION["suspended"],
    "rejected": palette.VERMILLION,
    "expired": palette.PARTICIPATION["ended"],
    "terminated": palette.PARTICIPATION["ended"],
}


def badge(label: str, colour: str) -> SafeString:
    """A label on its colour: the text always says what the colour shows."""
    return format_html(
        '<span class="tracker-badge" style="background-color:{};color:{}">{}</span>',
        colour,
        palette.text_on(colour),
        label,
    )


# --- aliases: one name per line ------------------------------------------------------------------


class LinesField(forms.Field):
    """A list of strings as a text box of one per line: ``Mongol Uls`` is a name, not JSON."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 40})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        lines = (line.strip() for line in str(value or "").splitlines())
        names: list[str] = []
        for line in lines:
            if "\x00" in line:
                raise forms.ValidationError("A name may not contain a NUL character.")
            if line and line not in names:
                names.append(line)
        return names

    def has_changed(self, initial: Any, data: Any) -> bool:
        return bool(self.to_python(initial) != self.to_python(data))


# --- parameters: name and value rows -----------------------------------------------------------


def _value_text(value: Any) -> str:
    """How a stored value is shown: a string as typed (quoted only when it would read as a
    number, list or other JSON), anything else as JSON."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False)


def _value_of(text: str) -> Any:
    """What a typed value means: JSON when it reads as JSON (``500``, ``[500, 5500]``,
    ``true``, ``"500"``), else the text itself."""
    try:
        return json.loads(text)
    except RecursionError:
        raise forms.ValidationError(
            f"A value may be nested at most {MAX_STORED_DEPTH} levels deep."
        ) from None
    except ValueError:
        return text


class KeyValueRowsWidget(forms.Widget):
    """Rows of name and value, with blank rows to add more (saving shows new blank ones)."""

    template_name = "admin/proposals/widgets/key_value_rows.html"
    blank_rows = 3

    def format_value(self, value: Any) -> Any:
        return value

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        if isinstance(value, dict):
            rows = [(key, _value_text(item)) for key, item in value.items()]
        elif isinstance(value, list):  # submitted rows shown again as typed
            rows = [tuple(row) for row in value if any(row)]
        else:
            rows = []
        rows += [("", "")] * self.blank_rows
        context["widget"]["rows"] = [
            {"index": index, "key": key, "value": text} for index, (key, text) in enumerate(rows)
        ]
        context["widget"]["count"] = len(rows)
        return context

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        try:
            count = min(int(data.get(f"{name}-rows", 0)), 1000)
        except ValueError:
            count = 0
        return [
            (data.get(f"{name}-{i}-key", "").strip(), data.get(f"{name}-{i}-value", "").strip())
            for i in range(count)
        ]

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}-rows" not in data


class KeyValueField(forms.Field):
    """A JSON object edited as rows of name and value; the model still checks what is stored."""

    widget = KeyValueRowsWidget

    def to_python(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        result: dict[str, Any] = {}
        for key, text in value or []:
            if not key and not text:
                continue
            if not key:
                raise forms.ValidationError(f"The value {text!r} needs a name.")
            if key in result:
                raise forms.ValidationError(f"The name {key!r} is given twice.")
            if "\x00" in key or "\x00" in text:
                raise forms.ValidationError("A name or value may not contain a NUL character.")
            result[key] = _value_of(text)
        return result

    def bound_data(self, data: Any, initial: Any) -> Any:
        return data  # shown back as typed, with the error

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return bool(self.to_python(data) != (initial or {}))
        except forms.ValidationError:
            return True


# --- an actor's code: a country picker for states -----------------------------------------------


def state_choices() -> list[tuple[str, str]]:
    """Every state code (ISO 3166-1 alpha-3 and the former states' ISO 3166-3), by name."""
    names = {countries.alpha3(code): name for code, name in countries}
    names.update(HISTORICAL_STATE_CODES)
    ordered = sorted(names.items(), key=lambda item: item[1])
    return [("", "---------"), *((code, f"{name} ({code})") for code, name in ordered)]


# --- citing by URL -------------------------------------------------------------------------------


class CiteByURLWidget(forms.MultiWidget):
    template_name = "admin/proposals/widgets/cite_by_url.html"

    def __init__(self) -> None:
        super().__init__(
            [
                forms.TextInput(attrs={"placeholder": "https://… (URL of the source)"}),
                forms.TextInput(attrs={"placeholder": "where: p. 3, art. II"}),
                forms.Textarea(attrs={"rows": 2, "placeholder": "quote, as published"}),
            ]
        )

    def decompress(self, value: Any) -> list[Any]:
        if isinstance(value, dict):
            return [value.get("url"), value.get("locator"), value.get("quote")]
        return [None, None, None]


class CiteByURLField(forms.MultiValueField):
    """A new citation typed as the source's URL (matched to a source or creating one when the
    form is saved), with where in it and what it says."""

    widget = CiteByURLWidget

    def __init__(self, **kwargs: Any) -> None:
        fields = (
            forms.CharField(max_length=2000, required=False),
            forms.CharField(max_length=200, required=False),
            forms.CharField(required=False, strip=False),
        )
        super().__init__(fields, required=False, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> dict[str, str] | None:
        url, locator, quote = [*data_list, "", "", ""][:3]
        url, locator, quote = (url or "").strip(), (locator or "").strip(), quote or ""
        if not url:
            if locator or quote:
                raise forms.ValidationError("Type the URL of the source being cited.")
            return None
        return {"url": url, "locator": locator, "quote": quote}
