"""What the OpenAPI schema says of every operation at once, derived from the views themselves.

drf-spectacular documents each view from its serializers and ``extend_schema``; what holds for
every view alike is added here, read from the same classes DRF runs, so it cannot drift:

- **Anonymous access.** An operation whose permission classes let an anonymous client through
  lists the empty security requirement ``{}`` beside the token and the session, so a generated
  client does not demand credentials for a public read.
- **No defaults in a partial update.** DRF fills a field's default only when the whole object is
  written; a PATCH leaves what it does not mention alone. Its schema says so by listing no
  ``default``, which generated clients would otherwise send in place of a missing value.
- **Addresses that may be empty.** A URL field that may be blank (or is only read, from a record
  that may lack it) is ``""`` or a URI, which is what its schema says.
- **The lookup in the path** has the router's pattern (a measure's slug, no ``.`` in a code).
- **Empty query values.** Every optional query parameter given empty (``?q=``) is the same as
  leaving it out, as HTML forms send them (``cursor=`` empty starts a cursor walk);
  ``allowEmptyValue`` says so.
- **Text that must not be blank.** A text field that trims its spaces and refuses an empty
  value needs a character other than a space, which its pattern (``\\S``) says.
- **Dates and their precision**: a month- or year-precision date is the first of its period
  (``date_precision_rules``).
- **An actor's code**, which depends on its kind: a state's is an ISO 3166 code, an
  organization's a short capitalized code (``actor_code_rules``, a post-processing hook).
- **Errors any view can answer**: 401 when it authenticates (a bad or expired token on a read
  is refused, not ignored), 406 from content negotiation (a ``format`` or ``Accept`` it does not
  offer), 415 when it parses a body (anything but JSON), 429 when it throttles.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ComponentRegistry
from rest_framework import serializers
from rest_framework.request import Request


class ErrorDetailSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField(help_text="What went wrong, in words.")


# Which of these an operation lists depends on its view: see AutoSchema.get_operation.
COMMON_ERRORS = {
    401: "The credentials sent are not valid (unknown or expired token, wrong password).",
    406: "A `format` or `Accept` this endpoint does not offer.",
    415: "The body is not JSON (`Content-Type: application/json`).",
    429: "Throttled; see `Retry-After`.",
}


class AutoSchema(SpectacularAutoSchema):
    def get_auth(self) -> list[dict[str, Any]]:
        auths = super().get_auth()
        if auths and {} not in auths and self.allows_anonymous():
            auths.append({})
        return auths

    def allows_anonymous(self) -> bool:
        """Whether the view's own permission classes admit an anonymous request."""
        request = Request(RequestFactory().generic(self.method, self.path))
        request.user = AnonymousUser()
        return all(
            permission.has_permission(request, self.view)
            for permission in self.view.get_permissions()
        )

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        super()._insert_field_validators(field, schema)
        if (
            isinstance(field, serializers.URLField)
            and schema.get("format") == "uri"
            and (field.allow_blank or field.read_only)
        ):
            # An address the record may lack is an empty string, which is not a URI.
            del schema["format"]
            schema["anyOf"] = [{"format": "uri"}, {"maxLength": 0}]

    def _map_serializer_field(
        self, field: Any, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and type(field) is serializers.CharField
            and field.trim_whitespace
            and not field.allow_blank
            and schema.get("type") == "string"
            and not {"pattern", "enum", "format"} & set(schema)
        ):
            schema["pattern"] = r"\S"  # anything but spaces: it is trimmed, then may not be blank
        return schema

    def _get_serializer_field_meta(self, field: Any, direction: str) -> dict[str, Any]:
        meta: dict[str, Any] = super()._get_serializer_field_meta(field, direction)
        if direction == "request" and getattr(field.root, "partial", False):
            meta.pop("default", None)
        return meta

    def get_operation(
        self,
        path: str,
        path_regex: str,
        path_prefix: str,
        method: str,
        registry: ComponentRegistry,
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        lookup = getattr(self.view, "lookup_url_kwarg", None) or getattr(
            self.view, "lookup_field", None
        )
        # The router's own rule for the lookup in the path (DRF's default: no "/" and no ".",
        # which would start a format suffix).
        lookup_regex = getattr(self.view, "lookup_value_regex", "[^/.]+")
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
            if parameter["in"] == "path" and parameter["name"] == lookup:
                parameter["schema"].setdefault("pattern", f"^{lookup_regex}$")
        responses = operation.setdefault("responses", {})
        applies = {
            401: bool(self.view.get_authenticators()),
            406: True,  # every DRF view negotiates the response's format before anything else
            415: "requestBody" in operation,
            429: bool(self.view.get_throttles()),
        }
        for status, description in COMMON_ERRORS.items():
            if applies[status] and str(status) not in responses:
                responses[str(status)] = {
                    "description": description,
                    "content": {"application/json": {"schema": self.error_detail_reference()}},
                }
        return operation

    def error_detail_reference(self) -> dict[str, Any]:
        component = self.resolve_serializer(ErrorDetailSerializer, "response")
        return dict(component.ref)


def actor_code_rules(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: an actor written through the API is one of two
    shapes, told apart by ``kind`` — a state (the default) whose ``code`` is one of the ISO
    codes ``Actor.clean`` accepts, or an organization whose code follows its pattern — so that
    a body the schema accepts is one the service accepts."""
    from proposals.api.serializers import CODE_PATTERN
    from proposals.models import state_codes

    # Any case, as the API takes it: [Rr][Uu][Ss] for RUS.
    iso = "|".join("".join(f"[{c}{c.lower()}]" for c in code) for code in state_codes())

    schemas = result.get("components", {}).get("schemas", {})
    for name in ("ActorRequest", "PatchedActorRequest"):
        body = schemas.get(name)
        if body is None:
            continue
        partial = name.startswith("Patched")
        code = body["properties"]["code"]
        state = _with(
            body,
            kind={"type": "string", "enum": ["state"], "default": "state"},
            code=code | {"pattern": f"^({iso})$"},
        )
        organization = _with(
            body,
            kind={"type": "string", "enum": ["organization"]},
            code=code | {"pattern": CODE_PATTERN},
        )
        organization["required"] = sorted({*organization.get("required", []), "kind"})
        if partial:
            state["properties"]["kind"].pop("default")
        schemas[name] = {
            "oneOf": [state, organization],
            "description": "A state (`kind` `state`, the default: `code` an ISO 3166-1 "
            "alpha-3 code, or a former state's ISO 3166-3 code such as SUN) or an "
            "organization (`kind` `organization`: `code` a letter, then letters, digits or "
            "hyphens, such as NATO or G20). Codes are stored in capitals; any case is taken.",
        }
    return result


def _with(body: dict[str, Any], **properties: dict[str, Any]) -> dict[str, Any]:
    copy = {**body, "properties": {**body["properties"], **properties}}
    copy.pop("description", None)
    return copy


def citation_rules(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: what a citation must name, as the serializers
    check it. A citation given with its fact names its source by ``source`` or by ``url``, not
    both; one written on its own supports exactly one of a measure, an event or a position
    (a partial update names at most one; what it may not leave is a 409, since it depends on
    what the citation holds)."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, body in schemas.items():
        if name.endswith("CitedRequest"):
            body["oneOf"] = [{"required": ["source"]}, {"required": ["url"]}]
    targets = ("measure", "event", "position")
    not_null = {"not": {"enum": [None]}}
    if "CitationRequest" in schemas:
        schemas["CitationRequest"]["oneOf"] = [
            {
                "required": [target],
                "properties": {
                    other: not_null if other == target else {"enum": [None]} for other in targets
                },
            }
            for target in targets
        ]
    if "PatchedCitationRequest" in schemas:
        schemas["PatchedCitationRequest"]["not"] = {
            "anyOf": [
                {"required": [a, b], "properties": {a: not_null, b: not_null}}
                for i, a in enumerate(targets)
                for b in targets[i + 1 :]
            ]
        }
    return result


def selected_list_items(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: a list that takes ``fields=`` returns items with
    only the fields asked for (``id`` and ``url`` always), so its items' schema requires no
    other field. Each such list's items get their own component, ``Selected…``, with the same
    properties; the detail answers keep theirs."""
    from proposals.api.params import ALWAYS_KEPT

    schemas = result.get("components", {}).get("schemas", {})
    prefix = "#/components/schemas/"
    for operations in result.get("paths", {}).values():
        operation = operations.get("get")
        if not operation or not any(p["name"] == "fields" for p in operation["parameters"]):
            continue
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]
        items = schemas[page["$ref"].removeprefix(prefix)]["properties"]["results"]["items"]
        name = items["$ref"].removeprefix(prefix)
        selected = f"Selected{name}"
        if selected not in schemas:
            full = schemas[name]
            kept = [field for field in full.get("required", []) if field in ALWAYS_KEPT]
            schemas[selected] = {
                **{key: value for key, value in full.items() if key != "required"},
                **({"required": kept} if kept else {}),
                "description": f"{full.get('description', '')}\n\nWith `fields=`, only the "
                "fields asked for (and `id` and `url`, when the item has them).".strip(),
            }
        items["$ref"] = prefix + selected
    return result


def date_precision_rules(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: a month- or year-precision date is the first day of
    its period (``proposals.models.check_date_precision``), in every body that writes an event
    or a position — said as what a body may *not* be, which generated clients leave to the
    service. A partial update that sends a date or a precision alone is checked against what
    is stored, which the schema cannot know: a mismatch is a 409 saying so."""
    mismatches = [
        {
            "required": ["date_precision", "date"],
            "properties": {
                "date_precision": {"enum": [precision]},
                "date": {"not": {"pattern": start}},
            },
        }
        for precision, start in (("year", YEAR_START), ("month", MONTH_START))
    ]
    for name, body in result.get("components", {}).get("schemas", {}).items():
        properties = body.get("properties", {})
        if name.endswith("Request") and {"date", "date_precision"} <= set(properties):
            body["not"] = {"anyOf": mismatches}
    return result


YEAR_START = r"^[0-9]{4}-01-01$"
MONTH_START = r"^[0-9]{4}-[0-9]{2}-01$"
