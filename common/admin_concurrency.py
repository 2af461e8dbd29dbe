"""Optimistic concurrency for admin change forms: a second curator's save never silently
overwrites the first one's.

Contract
--------
``OptimisticLockAdmin`` is a ``ModelAdmin`` mixin (put it first among the bases). A change
form carries, in the hidden field ``_version``, a digest of what the page showed as editable:
the values of the row's form fields, and the primary keys and form-field values of every row
of its inlines (so an inline row someone else added, edited or deleted counts too). Saving
locks the row (``select_for_update``, inside the admin's saving transaction), computes the
digest again from the database and, if it differs, refuses the whole save with a form-level
error that names the last change from the audit history (who, when, a link to it). Nothing is
written; the form comes back with everything the curator typed, now carrying the current
digest, so saving once more, deliberately, replaces the other change.

Only fields the form edits count: a source refresh rewriting its read-only refresh fields, or
the stored status following an event, is no conflict. Computing the digest costs no query on
the page (it reads what the form and its inlines loaded) and one query per inline on save.

A form posted without ``_version`` (not rendered by this admin, e.g. a history revert) is
saved unchecked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.forms.models import model_to_dict
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

VERSION_FIELD = "_version"


def _plain(value: Any) -> Any:
    """A form value in a form that compares equal whenever the stored value is the same."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, list | tuple | set | models.QuerySet):
        return sorted(str(_plain(item)) for item in value)
    return value


def _model_fields(model: type[models.Model], names: Iterable[str]) -> list[str]:
    """Those of ``names`` that are fields of ``model`` (a form's own extra fields are not)."""
    known = {field.name for field in model._meta.get_fields() if field.concrete}
    return sorted(name for name in names if name in known)


def _rows(rows: Iterable[models.Model], names: Sequence[str]) -> Any:
    return sorted(([str(row.pk), _values(row, names)] for row in rows), key=lambda row: str(row[0]))


def _values(instance: models.Model, names: Sequence[str]) -> dict[str, Any]:
    values = model_to_dict(instance, fields=names)
    return {name: _plain(values.get(name)) for name in names}


def digest(main: Mapping[str, Any], inlines: Mapping[str, Any]) -> str:
    text = json.dumps([main, inlines], sort_keys=True, cls=DjangoJSONEncoder)
    return hashlib.sha256(text.encode()).hexdigest()


class OptimisticLockAdmin(admin.ModelAdmin):
    """Refuse a save when the row or its inline rows changed since the form was loaded."""

    # --- the hidden field ---------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if (
            obj is None
            or not self.has_change_permission(request, obj)
            or VERSION_FIELD in flatten_fieldsets(fieldsets)
        ):
            return fieldsets
        (name, options), *rest = fieldsets
        return [(name, {**options, "fields": [*options["fields"], VERSION_FIELD]}), *rest]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        # The version is this form's own field, not one of the model's.
        fields = (
            kwargs["fields"]
            if "fields" in kwargs
            else flatten_fieldsets(self.get_fieldsets(request, obj))
        )
        if fields is not None:
            kwargs["fields"] = [name for name in fields if name != VERSION_FIELD]
        form = super().get_form(request, obj, change, **kwargs)
        # Any form of an existing row has the field its fieldsets name, including the history's
        # revert form, which asks for the form without saying it is a change.
        if obj is None:
            return form
        lock = self

        def clean(self: forms.ModelForm[Any]) -> Any:
            cleaned = form.clean(self)
            loaded = self.cleaned_data.get(VERSION_FIELD)
            if loaded and self.instance.pk is not None:
                lock.check_version(request, self, loaded)
            return cleaned

        attrs = {
            VERSION_FIELD: forms.CharField(widget=forms.HiddenInput, required=False),
            "clean": clean,
        }
        return type(form.__name__, (form,), attrs)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        adminform = context.get("adminform")
        if change and obj is not None and adminform is not None:
            form = adminform.form
            if VERSION_FIELD in form.fields and not form.is_bound:
                # What this page shows: the form's instance and the rows its inlines loaded.
                formsets = [inline.formset for inline in context.get("inline_admin_formsets", [])]
                names = _model_fields(self.model, form.fields)
                form.initial[VERSION_FIELD] = digest(
                    # form.initial holds the stored values (many-to-many ones included).
                    {name: _plain(form.initial.get(name)) for name in names},
                    {
                        formset.model._meta.label: _rows(
                            formset.get_queryset(),
                            _model_fields(formset.model, type(formset).form.base_fields),
                        )
                        for formset in formsets
                    },
                )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- the check ------------------------------------------------------------------------------

    def current_version(self, request: HttpRequest, obj: models.Model, names: Sequence[str]) -> str:
        """The digest of the stored row and of its inline rows, read now (a query each)."""
        inlines = {}
        for formset, inline in self.get_formsets_with_inlines(request, obj):
            if not hasattr(formset, "fk"):
                continue
            model = formset.model
            rows = inline.get_queryset(request).filter(**{formset.fk.name: obj})
            inlines[model._meta.label] = _rows(rows, _model_fields(model, formset.form.base_fields))
        return digest(_values(obj, names), inlines)

    def check_version(
        self,
        request: HttpRequest,
        form: forms.ModelForm[Any],
        loaded: str,
    ) -> None:
        """Lock the row and raise ``ValidationError`` if it changed since ``loaded``."""
        with transaction.atomic(using=self.model.objects.db):
            # Held until the admin's saving transaction ends: a second save waits for the
            # first to commit, then sees what it wrote.
            stored = self.model._default_manager.select_for_update().get(pk=form.instance.pk)
            current = self.current_version(request, stored, _model_fields(self.model, form.fields))
        if current == loaded:
            return
        # The form comes back with the current version: saving again is a deliberate choice.
        data = form.data.copy() if isinstance(form.data, QueryDict) else dict(form.data)
        data[form.add_prefix(VERSION_FIELD)] = current
        form.data = data
        raise ValidationError(self.conflict_message(request, stored), code="stale")

    # --- the message ----------------------------------------------------------------------------

    def conflict_message(self, request: HttpRequest, obj: models.Model) -> str:
        name = self.model._meta.verbose_name
        last = self.last_change(request, obj)
        if last is None:
            return (
                f"Someone else changed this {name} while you were editing it (the change left "
                "no history entry). Nothing was saved. Your entries are kept below: compare "
                "them with the current values (reload the page in another tab) and save again "
                "to replace them."
            )
        record, url = last
        user = record.history_user
        who = user.get_username() if user is not None else "Someone"
        when = timezone.localtime(record.history_date).strftime("%Y-%m-%d %H:%M:%S %Z")
        model = record.instance_type
        where = "" if model is self.model else f" (one of its {model._meta.verbose_name_plural})"
        return format_html(
            "{} saved a change to this {}{} at {}, while you were editing it: "
            '<a href="{}">view that change</a>. Nothing was saved. Your entries are kept below: '
            "compare them with that change and save again to replace it, or reload the page "
            "to start from the current values.",
            who,
            name,
            where,
            when,
            url,
        )

    def last_change(self, request: HttpRequest, obj: models.Model) -> tuple[Any, str] | None:
        """The newest audit history entry of the row or of its inline rows, with a link."""
        found: list[tuple[Any, str]] = []
        history = getattr(self.model, "history", None)
        if history is not None:
            record = history.filter(id=obj.pk).order_by("-history_date").first()
            if record is not None:
                found.append((record, self._history_url(self.model, obj.pk)))
        for formset, _inline in self.get_formsets_with_inlines(request, obj):
            model = formset.model
            if not hasattr(formset, "fk") or not hasattr(model, "history"):
                continue
            record = (
                model.history.filter(**{formset.fk.attname: obj.pk})
                .order_by("-history_date")
                .first()
            )
            if record is not None:
                url = self._history_url(model, record.id) or self._history_url(self.model, obj.pk)
                found.append((record, url))
        if not found:
            return None
        return max(found, key=lambda pair: pair[0].history_date)

    def _history_url(self, model: type[models.Model], pk: Any) -> str:
        try:
            return reverse(
                f"{self.admin_site.name}:{model._meta.app_label}_{model._meta.model_name}_history",
                args=[pk],
            )
        except NoReverseMatch:
            return ""
