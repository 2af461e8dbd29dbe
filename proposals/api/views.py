"""The resource endpoints under /api/v1/. Viewsets declare their queryset, serializer and filter
set; writes go through the services (``proposals.services``, ``tracker.writes``) from
``perform_create`` / ``perform_update`` / ``perform_destroy``; ``ConditionalMixin`` adds the
validators of ``conditional`` to every read and write.
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
from rest_framework.reverse import reverse
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from common.writes import Duplicate
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
from proposals.api.listcache import list_cache
from proposals.api.pagination import (
    LIST_PARAMETERS,
    QUERY_PARAMETERS,
    CheckHistoryPagination,
    TrackerPagination,
)
from proposals.api.renderers import CSVRenderer
from proposals.api.serializers import Conflict
from proposals.api.throttling import LOGIN_LIMITS, LoginAuthentication
from proposals.models import Actor, Citation, Event, Measure, Position
from tracker import writes as source_writes
from tracker.models import Source, SourceCheck
from tracker.serializers import SourceSerializer
from tracker.services import source_request_refresh

# --- errors ----------------------------------------------------------------------


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the errors our services raise, as JSON with a fitting status."""
    if isinstance(exc, Duplicate):
        existing = _api_url(exc.existing, context.get("request"))
        exc = Conflict({"detail": exc.messages[0], "existing": existing})
    elif isinstance(exc, DjangoValidationError):
        errors = exc.error_dict if hasattr(exc, "error_dict") else {"__all__": exc.error_list}
        # Each message keeps its code (``does_not_exist``: a 404, see names_no_row).
        detail: Any = {
            api_settings.NON_FIELD_ERRORS_KEY if name == "__all__" else name: [
                exceptions.ErrorDetail(str(next(iter(error))), code=error.code or "invalid")
                for error in error_list
            ]
            for name, error_list in errors.items()
        }
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, ProtectedError):
        blocking = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
        exc = Conflict(f"Still referred to by {', '.join(map(str, blocking))}; remove those first.")
    elif isinstance(exc, IntegrityError):
        exc = Conflict("This conflicts with a row written at the same time; read and retry.")
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError) and names_no_row(exc):
        response.status_code = status.HTTP_404_NOT_FOUND
    if response is not None:
        # A list field's errors are keyed by position (0, 1 …); JSON keys are strings.
        response.data = _string_keys(response.data)
    return response


# What the fields say of a value that is well formed but names no row: a related field's
# ``does_not_exist`` (a body), a parameter's ``unknown`` (a filter).
NO_SUCH_ROW = frozenset({"does_not_exist", "unknown"})


def names_no_row(error: exceptions.ValidationError) -> bool:
    """Whether every problem of a refused request is a reference to a row that does not exist:
    such a request is answered 404 (as for a path naming no row), with the same body as a 400,
    naming each field. Any other problem keeps it a 400."""
    codes = list(_leaves(error.get_codes()))
    return bool(codes) and all(code in NO_SUCH_ROW for code in codes)


def _leaves(codes: Any) -> Iterable[str]:
    if isinstance(codes, dict):
        for value in codes.values():
            yield from _leaves(value)
    elif isinstance(codes, list):
        for value in codes:
            yield from _leaves(value)
    else:
        yield codes


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


# The lookup of each resource's detail route, where it is not the primary key.
_LOOKUP = {"measure": "slug", "actor": "code"}


def _api_url(obj: models.Model, request: Request | None) -> str:
    name = obj._meta.model_name or ""
    lookup = _LOOKUP.get(name, "pk")
    return reverse(f"{name}-detail", kwargs={lookup: getattr(obj, lookup)}, request=request)


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
DUPLICATE = OpenApiResponse(
    response=inline_serializer(
        "Duplicate",
        {
            "detail": serializers.CharField(help_text="Which unique field or rule it repeats."),
            "existing": serializers.URLField(
                required=False, help_text="The object it would repeat (when it repeats one)."
            ),
        },
    ),
    description="It would repeat an existing object (a taken slug, code or URL, a second "
    "event or position of the same kind on the same day, a source cited twice at the same "
    "place): `existing` is that object's address. Read it, and change it instead. Or a "
    "partial update would leave a citation supporting two facts or none: `detail` says how to "
    "move it.",
)
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
    list_description: str = "",
    detail_parameters: Iterable[OpenApiParameter] = (),
) -> Callable[[type], type]:
    """The operations of a resource; requests are described by the viewset's serializer."""
    detail = detail or read
    write_errors = _errors(400, 401, 403, 404, 429)
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
        "create": extend_schema(
            summary=f"Create one of the {name}",
            responses={201: detail, **write_errors, 409: DUPLICATE},
        ),
        "destroy": extend_schema(
            summary=f"Delete one of the {name}",
            parameters=[IF_MATCH],
            responses={204: None, **write_errors, **_errors(409, 412, 428)},
        ),
    }
    for method, summary in (("update", "Replace"), ("partial_update", "Change part of")):
        views[method] = extend_schema(
            summary=f"{summary} one of the {name}",
            parameters=[IF_MATCH],
            responses={200: detail, **write_errors, 409: DUPLICATE, **_errors(412, 428)},
        )

    def decorate(cls: type) -> type:
        cls.item_serializer = read  # type: ignore[attr-defined]  # what `fields=` selects from
        return extend_schema_view(**views)(cls)

    return decorate


class ConditionalMixin:
    """Validators on every read, a precondition on every write (``proposals.api.conditional``).

    Lists answer 304 to a current ``If-None-Match`` after one query; a detail's ``ETag`` is the
    hash of its representation (``represent``), which is also what a write's ``If-Match`` must
    name: a missing one is a 428, a stale one a 412. The precondition is checked with the row
    locked, in the write's transaction.
    """

    request: Any
    kwargs: dict[str, Any]
    lookup_field: str
    lookup_url_kwarg: str | None

    # What the viewset provides (GenericViewSet and the write hooks).
    get_object: Callable[[], Any]
    get_queryset: Callable[[], QuerySet[Any]]
    get_serializer: Callable[..., serializers.BaseSerializer[Any]]
    perform_create: Callable[[Any], None]
    perform_update: Callable[[Any], None]
    perform_destroy: Callable[[Any], None]
    list_response: Callable[[], Response]

    def represent(self, obj: Any) -> dict[str, Any]:
        """The detail representation: the body of a read and of a write's answer, and the
        source of the ETag."""
        return cast(dict[str, Any], self.get_serializer(obj).data)

    def reload(self, obj: Any) -> Any:
        return self.get_queryset().get(pk=obj.pk)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return conditional_list(request, self.list_response, pages=list_cache())

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        obj = self.get_object()
        return detail_response(request, self.represent(obj), last_modified=obj.updated_at)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        obj = self.reload(serializer.instance)
        data = self.represent(obj)
        response = detail_response(
            request, data, last_modified=obj.updated_at, status_code=status.HTTP_201_CREATED
        )
        response["Location"] = str(
            data.get("api_url") or data["url"]
        )  # a Hyperlink is not a str to WSGI
        return response

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        with transaction.atomic():
            obj = self.locked_object()
            check_write_precondition(request, lambda: self.represent(obj))
            serializer = self.get_serializer(obj, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            self.perform_update(serializer)
        obj = self.reload(obj)
        return detail_response(request, self.represent(obj), last_modified=obj.updated_at)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            obj = self.locked_object()
            check_write_precondition(request, lambda: self.represent(obj))
            self.perform_destroy(obj)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def locked_object(self) -> Any:
        # Lock the row before reading what the precondition compares, so that two writers
        # holding the same ETag are serialized and the second one gets its 412.
        lookup = {self.lookup_field: self.kwargs[self.lookup_url_kwarg or self.lookup_field]}
        model = self.get_queryset().model
        if not model._default_manager.select_for_update().filter(**lookup).exists():
            raise Http404
        return self.get_object()


class ResourceViewSet(ConditionalMixin, viewsets.ModelViewSet):
    """A resource: its lists filtered by a strict filter set and offered as CSV too."""

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
            raise exceptions.ValidationError(params.form_errors(self.filterset.form))
        return self.filterset.qs

    def as_of(self) -> datetime.date | None:
        return params.as_of(self.request)

    # -- reads -------------------------------------------------------------------------------

    def list_response(self) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page or [], many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.check_parameters(self.detail_parameters)
        return super().retrieve(request, *args, **kwargs)

    @property
    def user(self) -> Any:
        return self.request.user


def _with_citations(serializer: serializers.BaseSerializer[Any]) -> tuple[dict[str, Any], Any]:
    data = dict(serializer.validated_data)
    return data, data.pop("citations", None)


# --- measures -----------------------------------------------------------------------------------


@_crud_schema(
    name="measures",
    read=api.MeasureListSerializer,
    detail=api.MeasureSerializer,
    list_description="Measures with their events, current positions, derived status and "
    "participations (all as of `as_of`, default today). See the status rules and stance "
    "vocabulary in the introduction.",
    detail_parameters=[AS_OF],
)
class MeasureViewSet(ResourceViewSet):
    """Proposals, agreements, mechanisms and unilateral commitments."""

    queryset = Measure.objects.all()
    lookup_field = "slug"
    lookup_value_regex = "[-a-zA-Z0-9_]+"  # a slug, as the model's SlugField takes it
    filterset_class = filtersets.MeasureFilterSet
    serializer_class = api.MeasureSerializer
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
        selection = paginator.selection
        reader = api.MeasureReader(
            self.request,
            as_of=params.as_of(self.request),
            fields=selection.kept if selection is not None else None,
        )
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

    def represent(self, obj: Measure) -> dict[str, Any]:
        return self.measure_detail(obj.slug)

    def perform_create(self, serializer: api.MeasureSerializer) -> None:  # type: ignore[override]
        parts = serializer.split()
        serializer.instance = services.measure_create(
            user=self.user,
            fields=parts["fields"],
            categories=parts["categories"],
            parties=parts["parties"],
            events=parts["events"] or (),
            positions=parts["positions"] or (),
        )

    def perform_update(self, serializer: api.MeasureSerializer) -> None:  # type: ignore[override]
        services.measure_update(
            measure=cast(Measure, serializer.instance), user=self.user, **serializer.split()
        )

    def perform_destroy(self, instance: Measure) -> None:
        services.measure_delete(measure=instance, user=self.user)


# --- actors -------------------------------------------------------------------------------------


@_crud_schema(
    name="actors",
    read=api.ActorSerializer,
    detail=api.ActorDetailSerializer,
    detail_parameters=[AS_OF],
)
class ActorViewSet(ResourceViewSet):
    """States and international organizations."""

    queryset = Actor.objects.with_related()
    lookup_field = "code"
    filterset_class = filtersets.ActorFilterSet
    serializer_class = api.ActorSerializer
    detail_parameters = ("as_of",)
    csv_columns = ("code", "name", "kind", "aliases", "successor", "url", "updated_at")

    def get_object(self) -> Actor:
        # Codes are upper case; accept /actors/rus/ as well.
        self.kwargs["code"] = str(self.kwargs["code"]).upper()
        return super().get_object()

    def represent(self, obj: Actor) -> dict[str, Any]:
        as_of = self.as_of() if self.request.method == "GET" else None
        context = {**self.get_serializer_context(), "as_of": as_of}
        return cast(dict[str, Any], api.ActorDetailSerializer(obj, context=context).data)

    def perform_create(self, serializer: api.ActorSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.actor_create(
            user=self.user, fields=serializer.validated_data
        )

    def perform_update(self, serializer: api.ActorSerializer) -> None:  # type: ignore[override]
        services.actor_update(
            actor=cast(Actor, serializer.instance), user=self.user, fields=serializer.validated_data
        )

    def perform_destroy(self, instance: Actor) -> None:
        services.actor_delete(actor=instance, user=self.user)


# --- positions and events -------------------------------------------------------------------


@_crud_schema(
    name="positions",
    read=api.PositionSerializer,
    list_description="What each actor said about each measure, and when, with its sources. "
    "`current=true` keeps each actor's latest position per measure.",
)
class PositionViewSet(ResourceViewSet):
    """Dated, cited stances of actors on measures."""

    queryset = Position.objects.with_related().with_citations()
    filterset_class = filtersets.PositionFilterSet
    serializer_class = api.PositionSerializer
    csv_columns = ("id", "measure", "actor", "stance", "date", "date_precision", "quote", "url")

    def perform_create(self, serializer: api.PositionSerializer) -> None:  # type: ignore[override]
        fields, citations = _with_citations(serializer)
        serializer.instance = services.position_create(
            user=self.user, fields=fields, citations=citations
        )

    def perform_update(self, serializer: api.PositionSerializer) -> None:  # type: ignore[override]
        fields, citations = _with_citations(serializer)
        services.position_update(
            position=cast(Position, serializer.instance),
            user=self.user,
            fields=fields,
            citations=citations,
        )

    def perform_destroy(self, instance: Position) -> None:
        services.position_delete(position=instance, user=self.user)


@_crud_schema(
    name="events",
    read=api.EventSerializer,
    list_description="Dated things that happened to measures. Writing an event recomputes "
    "the measure's stored status.",
)
class EventViewSet(ResourceViewSet):
    """Dated events of measures (signature, entry into force, suspension …)."""

    queryset = Event.objects.with_related().with_citations()
    filterset_class = filtersets.EventFilterSet
    serializer_class = api.EventSerializer
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

    def perform_create(self, serializer: api.EventSerializer) -> None:  # type: ignore[override]
        fields, citations = _with_citations(serializer)
        serializer.instance = services.event_create(
            user=self.user, fields=fields, citations=citations
        )

    def perform_update(self, serializer: api.EventSerializer) -> None:  # type: ignore[override]
        fields, citations = _with_citations(serializer)
        services.event_update(
            event=cast(Event, serializer.instance),
            user=self.user,
            fields=fields,
            citations=citations,
        )

    def perform_destroy(self, instance: Event) -> None:
        services.event_delete(event=instance, user=self.user)


# --- sources and citations ------------------------------------------------------------------


class CanCheckSourcesNow(BasePermission):
    # A check writes the source's refresh state, so it takes what editing a source takes.
    message = "Checking a source now needs permission to change sources."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("tracker.change_source"))


@_crud_schema(
    name="sources",
    read=SourceSerializer,
    list_description="Every linked source with its health from the periodic refresh. Curators "
    "write the curator fields; the refresh fields are read-only.",
)
class SourceViewSet(ResourceViewSet):
    """Linked sources and their refresh state."""

    queryset = Source.objects.all()
    filterset_class = filtersets.SourceFilterSet
    serializer_class = SourceSerializer
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

    def perform_create(self, serializer: SourceSerializer) -> None:  # type: ignore[override]
        serializer.instance = source_writes.source_create(
            user=self.user, fields=serializer.validated_data
        )

    def perform_update(self, serializer: SourceSerializer) -> None:  # type: ignore[override]
        source_writes.source_update(
            source=cast(Source, serializer.instance),
            user=self.user,
            fields=serializer.validated_data,
        )

    def perform_destroy(self, instance: Source) -> None:
        source_writes.source_delete(source=instance, user=self.user)

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
                raise exceptions.ValidationError(params.form_errors(filterset.form))
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
    list_description="Links from a source to the measure, event or position it supports.",
)
class CitationViewSet(ResourceViewSet):
    """Which source backs which fact."""

    queryset = Citation.objects.with_related()
    filterset_class = filtersets.CitationFilterSet
    serializer_class = api.CitationSerializer
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

    def perform_create(self, serializer: api.CitationSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.citation_create(
            user=self.user, fields=serializer.validated_data
        )

    def perform_update(self, serializer: api.CitationSerializer) -> None:  # type: ignore[override]
        services.citation_update(
            citation=cast(Citation, serializer.instance),
            user=self.user,
            fields=serializer.validated_data,
        )

    def perform_destroy(self, instance: Citation) -> None:
        services.citation_delete(citation=instance, user=self.user)


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
