"""The resource endpoints under /api/v1/. Viewsets declare; reads are built in
``serializers``, writes are done by ``proposals.services``, validators come from ``conditional``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.authentication import BasicScheme
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from knox import views as knox_views
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from proposals import services
from proposals.api import filtersets, params
from proposals.api import serializers as api
from proposals.api.conditional import (
    IF_NONE_MATCH,
    NOT_MODIFIED,
    check_write_precondition,
    conditional_list,
    detail_response,
)
from proposals.api.pagination import (
    LIST_PARAMETERS,
    QUERY_PARAMETERS,
    CheckHistoryPagination,
    TrackerPagination,
)
from proposals.api.renderers import CSVRenderer
from proposals.api.throttling import LOGIN_LIMITS, LoginAuthentication
from proposals.models import Actor, Citation, Event, Measure, Position
from tracker.models import Source, SourceCheck
from tracker.services import source_request_refresh

# --- errors ----------------------------------------------------------------------


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the errors our services raise, as JSON with a fitting status."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail: Any = {
                api_settings.NON_FIELD_ERRORS_KEY if name == "__all__" else name: messages
                for name, messages in exc.message_dict.items()
            }
        else:
            detail = {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, ProtectedError):
        blocking = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
        exc = Conflict(f"Still referred to by {', '.join(map(str, blocking))}; remove those first.")
    elif isinstance(exc, IntegrityError):
        exc = Conflict("This conflicts with a row written at the same time; read and retry.")
    response = drf_exception_handler(exc, context)
    if response is not None:
        # A list field's errors are keyed by position (0, 1 …); JSON keys are strings.
        response.data = _string_keys(response.data)
    return response


def _string_keys(data: Any) -> Any:
    if isinstance(data, dict):
        return {str(key): _string_keys(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_string_keys(item) for item in data]
    return data


_MAX_ROW_ID = 2**63 - 1  # the largest BigAutoField value, on every database


def is_row_id(text: str) -> bool:
    """``text`` could be a row's id: ASCII digits, within 64 bits."""
    return text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) <= _MAX_ROW_ID


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict with the current state of the data."
    default_code = "conflict"


# --- common viewset behaviour ----------------------------------------------------------------


ERRORS = {
    400: OpenApiResponse(
        description="A parameter or field is invalid; the body maps each name to its messages."
    ),
    401: OpenApiResponse(description="Writing needs a token (`Authorization: Token …`)."),
    403: OpenApiResponse(description="Authenticated, but without the model permission."),
    404: OpenApiResponse(description="No such object, or a page past the last."),
    406: OpenApiResponse(description="A `format` or `Accept` this endpoint does not offer."),
    409: OpenApiResponse(description="Still referred to by other rows (delete those first)."),
    412: OpenApiResponse(description="`If-Match` is stale: the object changed since you read it."),
    428: OpenApiResponse(description="`If-Match` is missing on a write to an existing object."),
    429: OpenApiResponse(description="Throttled; see `Retry-After`."),
}
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The `ETag` of your last read (or `*` alone). Missing: 428. Malformed: 400. "
    "Stale: 412.",
)
AS_OF = params.openapi_parameter(
    "as_of",
    params.DateParam(
        help_text="Statuses, participations and stances as they stood that day, events and "
        "positions after it left out. Default: today."
    ),
)


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


def _crud_schema(
    *,
    name: str,
    read: type[serializers.Serializer[Any]],
    detail: type[serializers.Serializer[Any]] | None = None,
    write: type[serializers.Serializer[Any]] | None,
    list_description: str = "",
    detail_parameters: Iterable[OpenApiParameter] = (),
) -> Callable[[type], type]:
    detail = detail or read
    views: dict[str, Any] = {
        "list": extend_schema(
            summary=f"List {name}",
            description=list_description,
            parameters=[IF_NONE_MATCH],
            responses={200: read(many=True), **NOT_MODIFIED, **_errors(400, 404, 406, 429)},
        ),
        "retrieve": extend_schema(
            summary=f"One of the {name}",
            parameters=[IF_NONE_MATCH, *detail_parameters],
            responses={200: detail, **NOT_MODIFIED, **_errors(400, 404, 406, 429)},
        ),
    }
    if write is not None:
        write_errors = _errors(400, 401, 403, 404, 429)
        views["create"] = extend_schema(
            summary=f"Create one of the {name}",
            request=write,
            responses={201: detail, **write_errors},
        )
        for method, summary in (("update", "Replace"), ("partial_update", "Change part of")):
            views[method] = extend_schema(
                summary=f"{summary} one of the {name}",
                request=write,
                parameters=[IF_MATCH],
                responses={200: detail, **write_errors, **_errors(412, 428)},
            )
        views["destroy"] = extend_schema(
            summary=f"Delete one of the {name}",
            parameters=[IF_MATCH],
            responses={204: None, **write_errors, **_errors(409, 412, 428)},
        )

    def decorate(cls: type) -> type:
        cls.item_serializer = read  # type: ignore[attr-defined]  # what `fields=` selects from
        return extend_schema_view(**views)(cls)

    return decorate


class ResourceViewSet(viewsets.GenericViewSet):
    """Reads from representations, writes through services, every write conditional.

    Subclasses declare the queryset, the filter set, the input serializer, the CSV columns and
    how to represent, create, update and delete one object.
    """

    filter_backends = [DjangoFilterBackend]
    pagination_class = TrackerPagination
    csv_columns: tuple[str, ...] = ()
    csv_action = False  # an extra list action (a source's checks) that also speaks CSV
    detail_parameters: ClassVar[tuple[str, ...]] = ()
    filterset_class: type[filtersets.StrictFilterSet] | None = None
    filterset: filtersets.StrictFilterSet | None = None

    # -- path ids ------------------------------------------------------------------------------

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A row id is a positive 64-bit integer; anything else in its place names no row, and
        # must not reach the database, where it is an error rather than a miss.
        if "pk" in kwargs and not is_row_id(str(kwargs["pk"])):
            raise exceptions.NotFound(f"Not found: ids are whole numbers from 1 to {_MAX_ROW_ID}.")
        super().initial(request, *args, **kwargs)

    # -- negotiation and parameters -----------------------------------------------------------

    def get_renderers(self) -> list[BaseRenderer]:
        renderers = super().get_renderers()
        if self.action == "list" or getattr(self, "csv_action", False):
            renderers.append(CSVRenderer())
        return renderers

    def check_parameters(self, allowed: Iterable[str], lists: Iterable[str] = ()) -> None:
        """An unknown parameter, or one given twice that is not a list, is a 400."""
        params.check_query(self.request.query_params, allowed=allowed, lists=set(lists))

    def list_parameters(self) -> set[str]:
        names = set(QUERY_PARAMETERS)
        if self.filterset_class is not None:
            names |= set(self.filterset_class.base_filters)
        return names

    def list_valued_parameters(self) -> set[str]:
        names = set(LIST_PARAMETERS)
        if self.filterset_class is not None:
            names |= self.filterset_class.list_parameters()
        return names

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.action != "list" or self.filterset_class is None:
            return queryset
        self.check_parameters(self.list_parameters(), self.list_valued_parameters())
        if not set(self.request.query_params) & set(self.filterset_class.base_filters):
            # Nothing to filter: building the filter set (a deep copy of every filter and a
            # form) would be the most expensive step of a plain list request.
            return queryset
        self.filterset = self.filterset_class(
            self.request.query_params, queryset=queryset, request=self.request
        )
        if not self.filterset.is_valid():
            raise exceptions.ValidationError(self.filterset.errors)
        return self.filterset.qs

    def as_of(self) -> datetime.date | None:
        return params.as_of(self.request)

    # -- hooks -------------------------------------------------------------------------------

    def represent(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def represent_detail(self, obj: Any) -> dict[str, Any]:
        return self.represent(obj)

    def reload(self, obj: Any) -> Any:
        return self.get_queryset().get(pk=obj.pk)

    def perform_service_create(self, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def perform_service_update(self, obj: Any, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def create_from(self, serializer: serializers.BaseSerializer[Any]) -> models.Model:
        return self.perform_service_create(dict(serializer.validated_data))

    def update_from(self, obj: Any, serializer: serializers.BaseSerializer[Any]) -> None:
        self.perform_service_update(obj, dict(serializer.validated_data))

    def perform_service_delete(self, obj: Any) -> None:
        raise NotImplementedError

    # -- reads -------------------------------------------------------------------------------

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return conditional_list(request, self.list_response)

    def list_response(self) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response([self.represent(obj) for obj in page or []])

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.check_parameters(self.detail_parameters)
        obj = self.get_object()
        return detail_response(request, self.represent_detail(obj), last_modified=obj.updated_at)

    # -- writes ------------------------------------------------------------------------------

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = self.reload(self.create_from(serializer))
        data = self.represent_detail(obj)
        response = detail_response(
            request, data, last_modified=obj.updated_at, status_code=status.HTTP_201_CREATED
        )
        response["Location"] = data.get("api_url") or data["url"]
        return response

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        with transaction.atomic():
            obj = self.locked_object()
            check_write_precondition(request, lambda: self.represent_detail(obj))
            serializer = self.get_serializer(obj, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            self.update_from(obj, serializer)
        obj = self.reload(obj)
        return detail_response(request, self.represent_detail(obj), last_modified=obj.updated_at)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            obj = self.locked_object()
            check_write_precondition(request, lambda: self.represent_detail(obj))
            self.perform_service_delete(obj)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def locked_object(self) -> Any:
        # Lock the row before reading what the precondition compares, so that two writers
        # holding the same ETag are serialized and the second one gets its 412.
        lookup = {self.lookup_field: self.kwargs[self.lookup_url_kwarg or self.lookup_field]}
        model = self.get_queryset().model
        if not model._default_manager.select_for_update().filter(**lookup).exists():
            raise Http404
        return self.get_object()

    @property
    def user(self) -> Any:
        return self.request.user


# --- measures -----------------------------------------------------------------------------------


@_crud_schema(
    name="measures",
    read=api.MeasureSerializer,
    detail=api.MeasureDetailSerializer,
    write=api.MeasureInput,
    list_description="Measures with their events, current positions, derived status and "
    "participations (all as of `as_of`, default today). See the status rules and stance "
    "vocabulary in the introduction.",
    detail_parameters=[AS_OF],
)
class MeasureViewSet(ResourceViewSet):
    """Proposals, agreements, mechanisms and unilateral commitments."""

    queryset = Measure.objects.all()
    lookup_field = "slug"
    filterset_class = filtersets.MeasureFilterSet
    serializer_class = api.MeasureInput
    detail_parameters = ("as_of",)
    csv_columns = (
        "slug",
        "title",
        "categories",
        "form",
        "scope",
        "venue",
        "parent",
        "parties",
        "status",
        "status_certain",
        "status_possible",
        "status_basis",
        "status_on",
        "participations",
        "url",
        "created_at",
        "updated_at",
    )

    def list_response(self) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        # Count the measures, not the rows with their parents joined: the same number, and the
        # ORM builds a COUNT over a join at about twice the cost.
        paginator = cast(TrackerPagination, self.paginator)
        page = paginator.paginate_queryset(
            api.measure_rows(queryset), self.request, view=self, counted=queryset
        )
        reader = api.MeasureReader(self.request, as_of=params.as_of(self.request))
        return self.get_paginated_response(reader.many(page or []))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.check_parameters(self.detail_parameters)
        data = self.measure_detail(self.kwargs["slug"], as_of=self.as_of())
        return detail_response(request, data)

    def measure_detail(self, slug: str, *, as_of: datetime.date | None = None) -> dict[str, Any]:
        row = api.measure_rows(Measure.objects.filter(slug=slug)).first()
        if row is None:
            raise Http404
        return api.MeasureReader(self.request, as_of=as_of).one(row)

    def represent_detail(self, obj: Measure) -> dict[str, Any]:
        return self.measure_detail(obj.slug)

    def reload(self, obj: Measure) -> Measure:
        return Measure.objects.get(pk=obj.pk)

    def create_from(self, serializer: serializers.BaseSerializer[Any]) -> Measure:
        parts = serializer.split()  # type: ignore[attr-defined]
        return services.measure_create(
            user=self.user,
            fields=parts["fields"],
            categories=parts["categories"],
            events=parts["events"] or (),
            positions=parts["positions"] or (),
        )

    def update_from(self, obj: Measure, serializer: serializers.BaseSerializer[Any]) -> None:
        services.measure_update(measure=obj, user=self.user, **serializer.split())  # type: ignore[attr-defined]

    def perform_service_delete(self, obj: Measure) -> None:
        services.measure_delete(measure=obj, user=self.user)


# --- actors -------------------------------------------------------------------------------------


@_crud_schema(
    name="actors",
    read=api.ActorSerializer,
    detail=api.ActorDetailSerializer,
    write=api.ActorInput,
    detail_parameters=[AS_OF],
)
class ActorViewSet(ResourceViewSet):
    """States and international organizations."""

    queryset = Actor.objects.with_related()
    lookup_field = "code"
    filterset_class = filtersets.ActorFilterSet
    serializer_class = api.ActorInput
    detail_parameters = ("as_of",)
    csv_columns = ("code", "name", "kind", "aliases", "successor", "url", "updated_at")

    def get_object(self) -> Actor:
        # Codes are upper case; accept /actors/rus/ as well.
        self.kwargs["code"] = str(self.kwargs["code"]).upper()
        return super().get_object()

    def represent(self, obj: Actor) -> dict[str, Any]:
        return api.actor_representation(obj, self.request)

    def represent_detail(self, obj: Actor) -> dict[str, Any]:
        as_of = self.as_of() if self.request.method == "GET" else None
        return api.actor_detail_representation(obj, self.request, as_of=as_of)

    def perform_service_create(self, data: dict[str, Any]) -> Actor:
        return services.actor_create(user=self.user, fields=data)

    def perform_service_update(self, obj: Actor, data: dict[str, Any]) -> None:
        services.actor_update(actor=obj, user=self.user, fields=data)

    def perform_service_delete(self, obj: Actor) -> None:
        services.actor_delete(actor=obj, user=self.user)


# --- positions and events -------------------------------------------------------------------


@_crud_schema(
    name="positions",
    read=api.PositionSerializer,
    write=api.PositionInput,
    list_description="What each actor said about each measure, and when, with its sources. "
    "`current=true` keeps each actor's latest position per measure.",
)
class PositionViewSet(ResourceViewSet):
    """Dated, cited stances of actors on measures."""

    queryset = Position.objects.with_related().with_citations()
    filterset_class = filtersets.PositionFilterSet
    serializer_class = api.PositionInput
    csv_columns = ("id", "measure", "actor", "stance", "date", "date_precision", "quote", "url")

    def represent(self, obj: Position) -> dict[str, Any]:
        return api.position_representation(obj, self.request)

    def perform_service_create(self, data: dict[str, Any]) -> Position:
        return services.position_create(user=self.user, fields=data)

    def perform_service_update(self, obj: Position, data: dict[str, Any]) -> None:
        services.position_update(position=obj, user=self.user, fields=data)

    def perform_service_delete(self, obj: Position) -> None:
        services.position_delete(position=obj, user=self.user)


@_crud_schema(
    name="events",
    read=api.EventSerializer,
    write=api.EventInput,
    list_description="Dated things that happened to measures. Writing an event recomputes "
    "the measure's stored status.",
)
class EventViewSet(ResourceViewSet):
    """Dated events of measures (signature, entry into force, suspension …)."""

    queryset = Event.objects.with_related().with_citations()
    filterset_class = filtersets.EventFilterSet
    serializer_class = api.EventInput
    csv_columns = (
        "id",
        "measure",
        "kind",
        "date",
        "date_precision",
        "actor",
        "scope_note",
        "certainty",
        "url",
    )

    def represent(self, obj: Event) -> dict[str, Any]:
        return api.event_representation(obj, self.request)

    def perform_service_create(self, data: dict[str, Any]) -> Event:
        return services.event_create(user=self.user, fields=data)

    def perform_service_update(self, obj: Event, data: dict[str, Any]) -> None:
        services.event_update(event=obj, user=self.user, fields=data)

    def perform_service_delete(self, obj: Event) -> None:
        services.event_delete(event=obj, user=self.user)


# --- sources and citations ------------------------------------------------------------------


class CanCheckSourcesNow(BasePermission):
    # A check writes the source's refresh state, so it takes what editing a source takes.
    message = "Checking a source now needs permission to change sources."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("tracker.change_source"))


@_crud_schema(
    name="sources",
    read=api.SourceSerializer,
    write=api.SourceInput,
    list_description="Every linked source with its health from the periodic refresh. Curators "
    "write the curator fields; the refresh fields are read-only.",
)
class SourceViewSet(ResourceViewSet):
    """Linked sources and their refresh state."""

    queryset = Source.objects.all()
    filterset_class = filtersets.SourceFilterSet
    serializer_class = api.SourceInput
    csv_columns = (
        "id",
        "url",
        "host",
        "title",
        "publisher",
        "kind",
        "is_primary",
        "published_on",
        "health",
        "http_status",
        "last_checked_at",
        "content_changed_at",
        "archived_url",
    )

    def represent(self, obj: Source) -> dict[str, Any]:
        return api.source_representation(obj, self.request)

    def perform_service_create(self, data: dict[str, Any]) -> Source:
        return services.source_create(user=self.user, fields=data)

    def perform_service_update(self, obj: Source, data: dict[str, Any]) -> None:
        services.source_update(source=obj, user=self.user, fields=data)

    def perform_service_delete(self, obj: Source) -> None:
        services.source_delete(source=obj, user=self.user)

    @extend_schema(
        summary="The check history of a source",
        description="One row per refresh attempt, newest first, walked by cursor (send "
        "`cursor=` empty or leave it out to start; follow `next`).",
        parameters=[IF_NONE_MATCH],
        responses={
            200: api.SourceCheckSerializer(many=True),
            **NOT_MODIFIED,
            **_errors(400, 404, 406),
        },
        filters=True,
    )
    @action(
        detail=True,
        methods=["get"],
        pagination_class=CheckHistoryPagination,
        filterset_class=filtersets.SourceCheckFilterSet,
        csv_action=True,
        csv_columns=api.CHECK_ROW_FIELDS,
        item_serializer=api.SourceCheckSerializer,
        queryset=SourceCheck.objects.all(),
    )
    def checks(self, request: Request, pk: str | None = None) -> Response:
        source = get_object_or_404(Source, pk=pk)
        self.check_parameters(
            {"cursor", "page_size", "fields", *filtersets.SourceCheckFilterSet.base_filters},
            {"fields", *filtersets.SourceCheckFilterSet.list_parameters()},
        )

        def build() -> Response:
            filterset = filtersets.SourceCheckFilterSet(
                request.query_params, queryset=SourceCheck.objects.filter(source=source)
            )
            if not filterset.is_valid():
                raise exceptions.ValidationError(filterset.errors)
            page = self.paginate_queryset(filterset.qs.values(*api.CHECK_ROW_FIELDS))
            return self.get_paginated_response([api.check_representation(r) for r in page or []])

        return conditional_list(request, build)

    @extend_schema(
        summary="Check a source now",
        description="Queues a check of the source ahead of its schedule and answers at once. "
        "The result appears in its check history (`checks`) and its `health` when a worker has "
        "checked it, usually within seconds. Needs permission to change sources.",
        request=None,
        responses={
            202: inline_serializer(
                "SourceRefreshQueued",
                {
                    "id": serializers.IntegerField(),
                    "status": serializers.ChoiceField(choices=["queued"]),
                    "checks": serializers.URLField(help_text="Where the result will appear."),
                },
            ),
            **_errors(401, 403, 404),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[CanCheckSourcesNow])
    def refresh(self, request: Request, pk: str | None = None) -> Response:
        source = get_object_or_404(Source, pk=pk)
        source_request_refresh(source=source)
        checks = request.build_absolute_uri(f"/api/v1/sources/{source.pk}/checks/")
        return Response(
            {"id": source.pk, "status": "queued", "checks": checks},
            status=status.HTTP_202_ACCEPTED,
        )


@_crud_schema(
    name="citations",
    read=api.CitationSerializer,
    write=api.CitationInput,
    list_description="Links from a source to the measure, event or position it supports.",
)
class CitationViewSet(ResourceViewSet):
    """Which source backs which fact."""

    queryset = Citation.objects.with_related()
    filterset_class = filtersets.CitationFilterSet
    serializer_class = api.CitationInput
    csv_columns = (
        "id",
        "source",
        "source_url",
        "measure",
        "event",
        "position",
        "quote",
        "locator",
        "url",
    )

    def represent(self, obj: Citation) -> dict[str, Any]:
        return api.citation_representation(obj, self.request)

    def perform_service_create(self, data: dict[str, Any]) -> Citation:
        return services.citation_create(user=self.user, fields=data)

    def perform_service_update(self, obj: Citation, data: dict[str, Any]) -> None:
        services.citation_update(citation=obj, user=self.user, fields=data)

    def perform_service_delete(self, obj: Citation) -> None:
        services.citation_delete(citation=obj, user=self.user)


# --- tokens -------------------------------------------------------------------------------------


TOKEN_RESPONSE = inline_serializer(
    "Token",
    {
        "token": serializers.CharField(help_text="Send as `Authorization: Token <token>`."),
        "expiry": serializers.DateTimeField(help_text="After this the token stops working."),
    },
)


class LoginAuthenticationScheme(BasicScheme):
    # To a client the login's authentication is plain HTTP Basic.
    target_class = "proposals.api.throttling.LoginAuthentication"


@extend_schema(
    summary="Get a token",
    description="Authenticate with HTTP Basic (user name and password); the token is stored "
    "hashed and expires (`TRACKER_API_TOKEN_TTL_HOURS`).\n\n" + LOGIN_LIMITS,
    request=None,
    responses={
        200: TOKEN_RESPONSE,
        **_errors(401),
        429: OpenApiResponse(
            description="Throttled or locked out; see `Retry-After`. Sent before the password "
            "is checked, so it says nothing about the password."
        ),
    },
)
class LoginView(knox_views.LoginView):
    # Throttles and lockouts are checked by the authentication, before the password.
    authentication_classes = [LoginAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = ()


@extend_schema(summary="Revoke this token", request=None, responses={204: None, **_errors(401)})
class LogoutView(knox_views.LogoutView):
    pass


@extend_schema(
    summary="Revoke every token of this user", request=None, responses={204: None, **_errors(401)}
)
class LogoutAllView(knox_views.LogoutAllView):
    pass
