"""The grammar of query parameters: one parser per kind of value, for the whole API.

The filter sets of the lists and the parameter forms of the matrix, the change feed, the export,
the import and the quality queue are all built from the fields below, and so is every query
parameter in the OpenAPI document, so a value is written, refused and documented the same way on
every endpoint:

- **Unknown parameters** are refused, naming the ones the endpoint takes: a typo must not return
  an unfiltered answer.
- **Once each**: a parameter given twice is refused, except the list parameters.
- **Empty** (``?q=``): the same as leaving the parameter out, as HTML forms send it.
- **Lists** (categories, statuses, kinds, stances, measures, actors, rules, ``fields`` …): repeat
  the parameter (``?x=a&x=b``), separate the values with commas (``?x=a,b``), or both; at most
  ``LIST_MAX_ITEMS`` values.
- **Dates**: ``YYYY-MM-DD`` only, and a day that exists. **Date-times**: ISO 8601
  (``2024-05-01T12:00:00Z``); a date alone means its midnight, no offset means UTC.
- **Integers**: digits only, within the parameter's bounds, and never beyond the database's 64-bit
  range. **Booleans**: ``true`` or ``false`` (also ``1``/``0``, ``yes``/``no``).
- **Text** is bounded (``TEXT_MAX_LENGTH`` characters); a search (``q``) also in words.
- ``as_of`` is parsed once per request: the first parser stores it on the request (``as_of()``).

Every refusal is a 400 whose body maps each parameter name to its messages:
``{"as_of": ["Enter a date as YYYY-MM-DD."]}`` (in CSV: a ``field,message`` table) — except a
well-formed value that names no row (a measure, an actor, a source, a cursor's page): that is a
404 with the same body, as a path naming no row is.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar, cast

from django import forms
from django.http import QueryDict
from drf_spectacular.plumbing import build_parameter_type
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request
from rest_framework.settings import api_settings

INT64_MAX = 2**63 - 1  # the largest id or number the database stores
TEXT_MAX_LENGTH = 200
SEARCH_MAX_WORDS = 20  # each word is one more term of the index query; bounded work per request
LIST_MAX_ITEMS = 100

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?")
_DIGITS = re.compile(r"\d+")
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _values(choices: Iterable[Any]) -> list[str]:
    """``("a", "A")`` pairs or plain values, as the plain values."""
    return [str(c[0] if isinstance(c, list | tuple) else c) for c in choices]


# --- the fields -------------------------------------------------------------------------------


class Parameter:
    """A query parameter's kind of value: parsed from text (a Django form field) and described
    for the OpenAPI document from the same definition. Optional unless said otherwise."""

    grammar: ClassVar[str] = ""  # how a value is written; ends every description
    many: ClassVar[bool] = False  # a list parameter: repeatable, commas allowed

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def description(self) -> str:
        return " ".join(
            part for part in (str(getattr(self, "help_text", "") or ""), self.grammar) if part
        )


class DateParam(Parameter, forms.Field):
    grammar = "A date: `YYYY-MM-DD`."
    default_error_messages = {
        "invalid": "Enter a date as YYYY-MM-DD.",
        "no_such_day": "There is no day %(value)s.",
    }

    def to_python(self, value: Any) -> datetime.date | None:
        if value in self.empty_values:
            return None
        text = str(value)
        if not _DATE.fullmatch(text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            raise forms.ValidationError(
                self.error_messages["no_such_day"], code="no_such_day", params={"value": text}
            ) from None

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date"}


class InstantParam(Parameter, forms.Field):
    grammar = (
        "An ISO 8601 date-time, e.g. `2024-05-01T12:00:00Z`; a date alone means its midnight, "
        "no offset means UTC."
    )
    default_error_messages = {
        "invalid": "Enter an ISO 8601 date-time such as 2024-05-01T12:00:00Z, or a date "
        "YYYY-MM-DD.",
        "no_such_time": "There is no such day or time: %(value)s.",
    }

    def to_python(self, value: Any) -> datetime.datetime | None:
        if value in self.empty_values:
            return None
        # An unencoded "+" in a query string arrives as a space: "…T10:00:00 02:00".
        text = re.sub(r"(T[0-9:.]+) (\d{2}:\d{2})$", r"\1+\2", str(value))
        if not _INSTANT.fullmatch(text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            parsed = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise forms.ValidationError(
                self.error_messages["no_such_time"], code="no_such_time", params={"value": text}
            ) from None
        if not parsed.tzinfo:
            return parsed.replace(tzinfo=datetime.UTC)
        # In UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows (up to ±23:59).
        try:
            return parsed.astimezone(datetime.UTC)
        except OverflowError:  # before year 1 or after 9999 in UTC: as far as time goes there
            extreme = datetime.datetime.min if parsed.year == 1 else datetime.datetime.max
            return extreme.replace(tzinfo=datetime.UTC)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}


class IntegerParam(Parameter, forms.Field):
    default_error_messages = {
        "invalid": "Enter a whole number.",
        "range": "Must be between %(low)s and %(high)s.",
    }

    def __init__(self, *, min_value: int = 1, max_value: int = INT64_MAX, **kwargs: Any) -> None:
        self.min_value, self.max_value = min_value, min(max_value, INT64_MAX)
        super().__init__(**kwargs)

    @property
    def grammar(self) -> str:  # type: ignore[override]
        return f"A whole number from {self.min_value} to {self.max_value}."

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        text = str(value)
        if not _DIGITS.fullmatch(text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        # Digits only, so a length check bounds the number before it is converted.
        number = int(text) if len(text) <= len(str(INT64_MAX)) else INT64_MAX + 1
        if not self.min_value <= number <= self.max_value:
            raise forms.ValidationError(
                self.error_messages["range"],
                code="range",
                params={"low": self.min_value, "high": self.max_value},
            )
        return number

    def schema(self) -> dict[str, Any]:
        return {
            "type": "integer",
            "format": "int64",
            "minimum": self.min_value,
            "maximum": self.max_value,
        }


class BooleanParam(Parameter, forms.Field):
    grammar = "`true` or `false`."
    default_error_messages = {"invalid": "Enter true or false."}

    def to_python(self, value: Any) -> bool | None:
        if value in self.empty_values:
            return None
        text = str(value).lower()
        if text not in _BOOLEANS:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return _BOOLEANS[text]

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class TextParam(Parameter, forms.CharField):
    def __init__(self, *, max_length: int = TEXT_MAX_LENGTH, **kwargs: Any) -> None:
        super().__init__(max_length=max_length, **kwargs)

    @property
    def grammar(self) -> str:  # type: ignore[override]
        return f"At most {self.max_length} characters."

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": self.max_length}


class SearchParam(TextParam):
    """Text search: bounded in characters and in words, so that one request's work is bounded
    (every word is one more term of the index query)."""

    def __init__(self, *, max_words: int = SEARCH_MAX_WORDS, **kwargs: Any) -> None:
        self.max_words = max_words
        super().__init__(**kwargs)

    @property
    def grammar(self) -> str:  # type: ignore[override]
        return f"At most {self.max_length} characters and {self.max_words} words."

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and len(value.split()) > self.max_words:
            raise forms.ValidationError(
                f"Search for at most {self.max_words} words.", code="too_many_words"
            )


class ChoiceParam(Parameter, forms.Field):
    """One value out of a vocabulary."""

    def __init__(self, *, choices: Iterable[Any], **kwargs: Any) -> None:
        self.choices = _values(choices)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str | None:
        if value in self.empty_values:
            return None
        if str(value) not in self.choices:
            raise forms.ValidationError(
                f"{str(value)[:TEXT_MAX_LENGTH]!r} is not one of: {', '.join(self.choices)}.",
                code="invalid_choice",
            )
        return str(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": self.choices}


class SlugParam(Parameter, forms.Field):
    """A measure's slug; with ``must_exist``, one that names a measure (one query)."""

    grammar = "A measure's slug."

    def __init__(self, *, must_exist: bool = False, **kwargs: Any) -> None:
        self.must_exist = must_exist
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str | None:
        if value in self.empty_values:
            return None
        slug = str(value)
        if len(slug) > 120 or not _SLUG.fullmatch(slug):
            raise forms.ValidationError(
                "Enter a slug: letters, digits, hyphens and underscores, at most 120.",
                code="invalid",
            )
        return slug

    def validate(self, value: Any) -> None:
        super().validate(value)
        from proposals.models import Measure

        if value and self.must_exist and not Measure.objects.filter(slug=value).exists():
            raise forms.ValidationError(
                "There is no measure with the slug %(slug)r.",
                code="unknown",
                params={"slug": value},
            )

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$", "maxLength": 120}


class ActorCodeParam(Parameter, forms.Field):
    """An actor's code, any case; with ``must_exist``, one that names an actor (one query, which
    also keeps the actor's id in ``actor_id`` for the filter that reads it)."""

    grammar = "An actor code such as `CHN`, any case."

    def __init__(self, *, must_exist: bool = False, **kwargs: Any) -> None:
        self.must_exist = must_exist
        self.actor_id: int | None = None
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str | None:
        if value in self.empty_values:
            return None
        code = str(value).strip().upper()
        if not code or len(code) > 16:
            raise forms.ValidationError("Enter an actor code of 1 to 16 characters.")
        return code

    def validate(self, value: Any) -> None:
        super().validate(value)
        from proposals.models import Actor

        if not value or not self.must_exist:
            return
        self.actor_id = Actor.objects.filter(code=value).values_list("pk", flat=True).first()
        if self.actor_id is None:
            raise forms.ValidationError(
                "There is no actor with the code %(code)r.", code="unknown", params={"code": value}
            )

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": 16}


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"{_LABEL}(\.{_LABEL})*\.?"


class HostParam(Parameter, forms.Field):
    """A host name in ASCII, as stored URLs spell hosts: an internationalized name in its
    ``xn--`` form. The same pattern is the schema's, so both refuse the same values."""

    grammar = "A host name such as `www.un.org` (internationalized names in their `xn--` form)."
    default_error_messages = {
        "invalid": "Enter a host name such as www.un.org (letters, digits and hyphens between "
        "dots; an internationalized name in its xn-- form)."
    }

    def to_python(self, value: Any) -> str | None:
        if value in self.empty_values:
            return None
        host = str(value)
        # re.search with the schema's own pattern: the test a schema validator makes.
        if len(host) > 253 or not re.search(f"^{_HOST}$", host):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return host.rstrip("\n").lower().removesuffix(".")

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^{_HOST}$", "maxLength": 253}


class ListParam(Parameter, forms.Field):
    """Several values: the parameter repeated, comma-separated values, or both. Each value is
    one of ``choices`` or is parsed by ``child``; repeats of a value count once."""

    many = True
    grammar = "Repeat the parameter or separate values with commas."
    widget = forms.MultipleHiddenInput  # reads every occurrence of the parameter

    def __init__(
        self,
        *,
        choices: Iterable[Any] | None = None,
        child: forms.Field | None = None,
        max_items: int = LIST_MAX_ITEMS,
        **kwargs: Any,
    ) -> None:
        self.choices = _values(choices) if choices is not None else None
        self.child = child
        self.max_items = max_items
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:
        given = value if isinstance(value, list | tuple) else [value]
        items: list[str] = []
        for part in (part.strip() for text in given if text for part in str(text).split(",")):
            if part and part not in items:
                items.append(part)
        return items

    def clean(self, value: Any) -> list[Any]:
        items = self.to_python(value)
        self.validate(items)
        if len(items) > self.max_items:
            raise forms.ValidationError(f"At most {self.max_items} values.", code="too_many")
        cleaned: list[Any] = []
        errors: list[str] = []
        for item in items:
            if self.choices is not None and item not in self.choices:
                errors.append(
                    f"{item[:TEXT_MAX_LENGTH]!r} is not one of: {', '.join(self.choices)}."
                )
            elif self.child is not None:
                try:
                    cleaned.append(self.child.clean(item))
                except forms.ValidationError as error:
                    errors.extend(error.messages)
            else:
                cleaned.append(item)
        if errors:
            raise forms.ValidationError(errors)
        return cleaned

    def schema(self) -> dict[str, Any]:
        if self.choices is not None:
            item: dict[str, Any] = {"type": "string", "enum": self.choices}
        elif isinstance(self.child, Parameter):
            item = self.child.schema()
        else:
            item = {"type": "string"}
        return {"type": "array", "items": item, "maxItems": self.max_items}

    def description(self) -> str:
        child = self.child.grammar if isinstance(self.child, Parameter) else ""
        return " ".join(
            part
            for part in (str(getattr(self, "help_text", "") or ""), child, self.grammar)
            if part
        )


class OrderingParam(Parameter, forms.Field):
    """Sort keys, comma-separated, each a field name or ``-`` and a field name. A field named
    again adds nothing: its first mention decides its direction."""

    def __init__(self, *, fields: Sequence[str], **kwargs: Any) -> None:
        self.fields = tuple(fields)
        self.choices = [term for name in self.fields for term in (name, f"-{name}")]
        super().__init__(**kwargs)

    @property
    def grammar(self) -> str:  # type: ignore[override]
        return (
            f"Sort keys, comma-separated: {', '.join(self.choices)} (`-`: descending). A field "
            "named again is ignored (its first mention decides). Ties are broken by id."
        )

    def to_python(self, value: Any) -> list[str]:
        if value in self.empty_values:
            return []
        terms = str(value).split(",")
        if not all(term in self.choices for term in terms):
            raise forms.ValidationError(
                f"{str(value)[:TEXT_MAX_LENGTH]!r} is not an ordering this list offers: give one "
                f"or more of {', '.join(self.choices)}, separated by commas.",
                code="invalid_choice",
            )
        first: dict[str, str] = {}
        for term in terms:
            first.setdefault(term.removeprefix("-"), term)
        return list(first.values())

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string", "enum": self.choices}}


# --- the whole query --------------------------------------------------------------------------


def check_query(query: QueryDict, *, allowed: Iterable[str], lists: Collection[str] = ()) -> None:
    """400 for a parameter the endpoint does not take, or one given twice that is not a list.
    ``format`` (the media type, negotiated before this) is always allowed."""
    names = {*allowed, api_settings.URL_FORMAT_OVERRIDE or "format"}
    offered = ", ".join(sorted(names))
    errors: dict[str, list[str]] = {}
    for name in query:
        if name not in names:
            errors[name] = [f"Not a parameter of this endpoint; it takes: {offered}."]
        elif name not in lists and len(query.getlist(name)) > 1:
            errors[name] = ["Give this parameter once; only list parameters may be repeated."]
    if errors:
        raise ValidationError(errors)


def form_errors(form: forms.Form) -> dict[str, list[ErrorDetail]]:
    """A form's (or a filter set's) errors as the API's 400 body, each message keeping its code
    (``unknown``: the value names no row, which the API answers with 404)."""
    return {
        name: [
            ErrorDetail(str(next(iter(error))), code=error.code or "invalid") for error in errors
        ]
        for name, errors in form.errors.as_data().items()
    }


def list_names(fields: Mapping[str, Any]) -> set[str]:
    """The list parameters among form fields (or filters, whose fields are built lazily)."""
    return {
        name
        for name, field in fields.items()
        if getattr(getattr(field, "field_class", field), "many", False)
    }


class ParameterForm(forms.Form):
    """The parameters of an endpoint that is not a filtered list. ``parse`` refuses unknown and
    repeated parameters, then cleans the rest; ``extra`` names parameters read elsewhere (paging,
    ``fields``)."""

    extra: ClassVar[tuple[str, ...]] = ()
    extra_lists: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def parse(cls, request: Request) -> dict[str, Any]:
        check_query(
            request.query_params,
            allowed=[*cls.base_fields, *cls.extra],
            lists={*list_names(cls.base_fields), *cls.extra_lists},
        )
        form = cls(request.query_params)
        if not form.is_valid():
            raise ValidationError(form_errors(form))
        remember(request, form.cleaned_data)
        return form.cleaned_data

    @classmethod
    def openapi(cls) -> list[OpenApiParameter]:
        return [
            openapi_parameter(name, cast(Parameter, field))
            for name, field in cls.base_fields.items()
        ]


# --- as_of, parsed once per request -----------------------------------------------------------

_AS_OF = "_parsed_as_of"


def remember(request: Request | None, cleaned: Mapping[str, Any]) -> None:
    """Keep the ``as_of`` a form or filter set has just parsed, for the rest of the request."""
    if request is not None and "as_of" in cleaned:
        setattr(request, _AS_OF, cleaned["as_of"])


def as_of(request: Request) -> datetime.date | None:
    """The request's ``as_of`` day (None: today), parsed at most once."""
    if hasattr(request, _AS_OF):
        return getattr(request, _AS_OF)
    if "as_of" not in request.query_params:
        return None
    field = DateParam()
    try:
        day = field.clean(request.query_params.get("as_of"))
    except forms.ValidationError as error:
        raise ValidationError({"as_of": error.messages}) from None
    setattr(request, _AS_OF, day)
    return day


# --- paging and field selection ----------------------------------------------------------------


def page_number() -> IntegerParam:
    return IntegerParam(
        help_text="Page number (numbered pages, the default). Past the last page: 404."
    )


def page_size(default: int, maximum: int, what: str = "Rows") -> IntegerParam:
    return IntegerParam(
        max_value=maximum, help_text=f"{what} per page: default {default}, maximum {maximum}."
    )


def cursor() -> TextParam:
    return TextParam(
        max_length=4000,
        help_text="Keyset pagination, fast at any depth: send it empty to start, then follow "
        "`next`. The response then has no `count`. A cursor this API did not make: 404.",
    )


ALWAYS_KEPT = ("id", "url")


def fields_param(names: Sequence[str]) -> ListParam:
    return ListParam(
        choices=names,
        help_text="Only these top-level fields of each item (`id` and `url` are always kept "
        "when the item has them), to make a page smaller. Unknown names: 400.",
    )


def value(request: Request, name: str, field: forms.Field, default: Any = None) -> Any:
    """One parameter parsed by ``field`` (errors keyed by its name); ``default`` when absent."""
    raw = (
        request.query_params.getlist(name)
        if getattr(field, "many", False)
        else (request.query_params.get(name))
    )
    try:
        parsed = field.clean(raw)
    except forms.ValidationError as error:
        raise ValidationError({name: error.messages}) from None
    return default if parsed in (None, []) else parsed


# --- OpenAPI ----------------------------------------------------------------------------------


def _style(field: Parameter) -> dict[str, Any]:
    if field.many:
        return {"explode": True, "style": "form"}
    if field.schema().get("type") == "array":  # comma-separated within one value (ordering)
        return {"explode": False, "style": "form"}
    return {}


def openapi_parameter(name: str, field: Parameter) -> OpenApiParameter:
    """For ``extend_schema(parameters=…)``: the same object as ``parameter_object`` builds."""
    return OpenApiParameter(
        name,
        field.schema(),
        OpenApiParameter.QUERY,
        required=bool(getattr(field, "required", False)),
        description=field.description(),
        **_style(field),
    )


def parameter_object(name: str, field: Parameter) -> dict[str, Any]:
    """For filter and pagination classes, which give raw OpenAPI parameter objects."""
    return build_parameter_type(
        name=name,
        schema=field.schema(),
        location=OpenApiParameter.QUERY,
        required=bool(getattr(field, "required", False)),
        description=field.description(),
        **_style(field),
    )
