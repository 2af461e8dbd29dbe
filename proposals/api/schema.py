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
