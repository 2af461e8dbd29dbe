"""The pictures of the API, as SVG (``image/svg+xml``), for ``<img src="…">`` in the admin and
anywhere else: a measure's timeline, the stance matrix as a heatmap, and the check outcomes of
one source or of every source by day. Drawing is ``proposals.pictures``; this module reads the
data and serves it.

Each picture is read like the lists: anonymously, under the same throttles, with a strong
``ETag`` from the data version (``proposals.api.conditional.list_etag``: any write changes it),
today's date, the path, the query and ``DRAWING_VERSION``; a current ``If-None-Match`` is a 304
after one query. An error (a bad parameter, a slug or id that names nothing) is answered in JSON
with the same bodies as every other endpoint: a picture of an error would hide it.
"""

from __future__ import annotations

import datetime
import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.http.response import HttpResponseBase
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from proposals import pictures
from proposals.api import params
from proposals.api.conditional import (
    IF_NONE_MATCH,
    NOT_MODIFIED,
    conditional_headers,
    list_etag,
    none_match,
    not_modified,
)
from proposals.api.feeds import (
    PARAMETER_ERRORS,
    MatrixParameters,
    MatrixView,
    default_renderers,
)
from proposals.api.pagination import CURSOR, PAGE, PAGE_SIZE
from proposals.api.schema import ErrorDetailSerializer
from proposals.models import Actor, Event, Measure, MeasureParty
from proposals.pictures.svg import shorten
from proposals.pictures.timeline import MAX_EVENTS, MAX_LANES
from tracker.models import Source, SourceCheck

# Bump when a picture is drawn differently, so that copies kept under an old ETag are redrawn.
DRAWING_VERSION = "1"

DEFAULT_DAYS = 90
MAX_DAYS = 366
_MAX_ROW_ID = 2**63 - 1


class SVGRenderer(BaseRenderer):
    media_type = "image/svg+xml"
    format = "svg"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        return b"" if data is None else str(data).encode()


def picture_etag(request: Request) -> str:
    digest = hashlib.sha256(f"{DRAWING_VERSION}\0{list_etag(request)}".encode())
    return f'"{digest.hexdigest()[:32]}"'


def conditional_picture(
    request: Request, build: Callable[[], HttpResponseBase]
) -> HttpResponseBase:
    """A 304 after one query when ``If-None-Match`` names the current picture, else ``build()``
    with its ``ETag`` (as ``conditional.conditional_list`` answers the lists)."""
    etag = picture_etag(request)
    # A tag given out for this very query, which was valid then; ``*`` names no query, so the
    # parameters are checked (by drawing) before a 304.
    if none_match(request, etag) and request.headers.get("If-None-Match", "").strip() != "*":
        return not_modified(etag)
    response = build()
    if response.status_code == status.HTTP_200_OK:
        if none_match(request, etag):
            return not_modified(etag)
        for name, value in conditional_headers(etag).items():
            response[name] = value
    return response


class PictureView(APIView):
    """SVG for the picture; JSON for an error, in the API's usual shapes."""

    renderer_classes = [SVGRenderer]
    permission_classes = [AllowAny]

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400:
            json = default_renderers()[0]
            response.accepted_renderer = json()
            response.accepted_media_type = json.media_type
        return response


def svg_response(description: str) -> dict[Any, Any]:
    return {
        (200, "image/svg+xml"): OpenApiResponse(response=OpenApiTypes.STR, description=description),
        **NOT_MODIFIED,
    }


NO_PARAMETERS_ERRORS = {(400, "application/json"): PARAMETER_ERRORS}


# --- a measure's timeline -------------------------------------------------------------------


class NoParameters(params.ParameterForm):
    """The parameters of an endpoint that takes none (but ``format``, as every endpoint): any
    other is refused."""


def read_timeline(slug: str) -> pictures.Timeline:
    """What the timeline of the measure ``slug`` shows, in four queries (five when it has more
    than ``MAX_EVENTS`` events): the measure, its named parties, its earliest events with their
    actors, and every actor's successor."""
    measure = Measure.objects.filter(slug=slug).values("id", "title", "scope").first()
    if measure is None:
        raise NotFound(f"There is no measure with the slug {slug!r}.")
    names: dict[str, str] = {}
    parties = MeasureParty.objects.filter(measure_id=measure["id"])
    party_codes = set()
    for code, name in parties.values_list("actor__code", "actor__name"):
        names[code] = name
        party_codes.add(code)
    rows = list(
        Event.objects.filter(measure_id=measure["id"])
        .order_by("date", "id")
        .values_list(
            "id",
            "kind",
            "date",
            "date_precision",
            "certainty",
            "scope_note",
            "actor__code",
            "actor__name",
            named=True,
        )[: MAX_EVENTS + 1]
    )
    later, cut = 0, None
    if len(rows) > MAX_EVENTS:
        # Everything before the first day left out is drawn, so what the rules derive up to
        # there is what the whole history derives.
        cut = rows[MAX_EVENTS].date
        rows = [row for row in rows if row.date < cut]
        later = Event.objects.filter(measure_id=measure["id"], date__gte=cut).count()
    events = []
    for row in rows:
        if row.actor__code is not None:
            names[row.actor__code] = row.actor__name
        events.append(
            pictures.TimelineEvent(
                id=row.id,
                kind=row.kind,
                date=row.date,
                precision=row.date_precision,
                certainty=row.certainty,
                actor=row.actor__code,
                scope_note=row.scope_note,
            )
        )
    successor_of = {}
    successors = Actor.objects.filter(successor__isnull=False).values_list(
        "code", "name", "successor__code", "successor__name"
    )
    for code, name, successor, successor_name in successors:
        successor_of[code] = successor
        names.setdefault(code, name)
        names.setdefault(successor, successor_name)
    return pictures.Timeline(
        slug=slug,
        title=measure["title"],
        scope=measure["scope"],
        parties=frozenset(party_codes),
        events=events,
        names=names,
        successor_of=successor_of,
        today=timezone.localdate(),
        later=later,
        cut=cut,
    )


class TimelineView(PictureView):
    @extend_schema(
        operation_id="v1_measure_timeline_svg",
        summary="A measure's timeline, as a picture",
        description=(
            "An SVG picture of the measure's events by date: one lane for the measure itself "
            "(its measure-wide events, coloured by its status over time), then one lane per "
            "actor (its events, coloured by its participation: signatory, party, suspended, "
            "withdrawn, ended), in the order of their names. An event known to the day is a "
            "dot; one known only to the month or year is a box spanning that whole month or "
            "year; the periods in which a status or participation is uncertain because of "
            "such a date are hatched. Each marker's tooltip names the event (kind, actor, date "
            "as precisely as known). The picture's `<title>` and `<desc>` are its text "
            "alternative.\n\n"
            f"At most {MAX_LANES} actor lanes and the earliest {MAX_EVENTS} events are drawn; "
            "a note under the picture says what was left out."
        ),
        parameters=[IF_NONE_MATCH],
        responses={
            **svg_response("The timeline."),
            **NO_PARAMETERS_ERRORS,
            (404, "application/json"): OpenApiResponse(
                response=ErrorDetailSerializer, description="No measure has this slug."
            ),
        },
    )
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        def build() -> Response:
            NoParameters.parse(request)
            return Response(pictures.timeline_svg(read_timeline(slug)))

        return conditional_picture(request, build)


# --- the stance matrix ----------------------------------------------------------------------


class MatrixPictureView(PictureView, MatrixView):
    @extend_schema(
        operation_id="v1_matrix_svg",
        summary="The stance matrix, as a heatmap picture",
        description=(
            "The page of `/api/v1/matrix/` with the same parameters (`as_of`, `actor`, "
            "`category`, `measure`, and the paging: `page`, `page_size`, `cursor`), drawn as an "
            "SVG heatmap: one row per actor, one column per measure, each cell in the colour "
            "of the stance. A cell without a position is white with a grey outline, unlike "
            "`neutral` (grey); an uncertain stance is hatched. Long titles are cut, and given "
            "whole in the tooltips. The next page's address is in the `Link` header and in the "
            "picture."
        ),
        parameters=[
            *MatrixParameters.openapi(),
            params.openapi_parameter("page", PAGE),
            params.openapi_parameter("page_size", PAGE_SIZE),
            params.openapi_parameter("cursor", CURSOR),
            IF_NONE_MATCH,
        ],
        responses={
            **svg_response("One page of the matrix as a heatmap."),
            **NO_PARAMETERS_ERRORS,
            404: OpenApiResponse(
                description="A page past the last, or a parameter that names nothing that "
                "exists (a measure, an actor, a cursor's page): the body names each such "
                "parameter, as a 400's does.",
            ),
        },
    )
    def get(self, request: Request) -> HttpResponseBase:
        def build() -> HttpResponseBase:
            response = self.grid(request)
            if isinstance(response, Response) and response.status_code == status.HTTP_200_OK:
                response.data = pictures.matrix_svg(response.data, today=timezone.localdate())
            return response

        return conditional_picture(request, build)


# --- source health over time ----------------------------------------------------------------


class HealthParameters(params.ParameterForm):
    days = params.IntegerParam(
        max_value=MAX_DAYS,
        help_text=f"How many days to show, ending today: default {DEFAULT_DAYS}.",
    )


def check_counts(
    *, first: datetime.date, days: int, source_id: int | None = None
) -> dict[datetime.date, dict[str, int]]:
    """The number of checks of each outcome on each day from ``first`` (in the site's time
    zone), of one source or of all: one query, grouped by day and outcome, that reads the
    checks through an index on ``checked_at`` (with the source first, for one source)."""
    zone = timezone.get_current_timezone()
    since = datetime.datetime.combine(first, datetime.time.min, tzinfo=zone)
    until = datetime.datetime.combine(
        first + datetime.timedelta(days=days), datetime.time.min, tzinfo=zone
    )
    checks = SourceCheck.objects.filter(checked_at__gte=since, checked_at__lt=until)
    if source_id is not None:
        checks = checks.filter(source_id=source_id)
    rows = (
        checks.annotate(day=TruncDate("checked_at", tzinfo=zone))
        .values("day", "outcome")
        .annotate(checks=Count("id"))
        .order_by()
    )
    counts: dict[datetime.date, dict[str, int]] = defaultdict(dict)
    for row in rows:
        counts[row["day"]][row["outcome"]] = row["checks"]
    return dict(counts)


def health_chart(request: Request, subject: str, source_id: int | None = None) -> str:
    given = HealthParameters.parse(request)
    days = given["days"] or DEFAULT_DAYS
    first = timezone.localdate() - datetime.timedelta(days=days - 1)
    counts = check_counts(first=first, days=days, source_id=source_id)
    return pictures.health_svg(
        pictures.HealthChart(subject=subject, first=first, days=days, counts=counts)
    )


HEALTH_DESCRIPTION = (
    "Bars of stacked counts, one per day (in the site's time zone) ending today, each "
    "outcome in its colour (outcomes coloured alike share a legend entry); a day without a "
    "check has no bar. Each bar's tooltip gives the day's counts, and the picture's `<desc>` "
    "the totals."
)


class SourceHealthView(PictureView):
    @extend_schema(
        operation_id="v1_source_health_svg",
        summary="One source's check outcomes by day, as a picture",
        description=f"An SVG picture of the source's checks over the last `days` days. "
        f"{HEALTH_DESCRIPTION}",
        parameters=[
            OpenApiParameter(
                "id",
                {"type": "integer", "format": "int64", "minimum": 1, "maximum": _MAX_ROW_ID},
                OpenApiParameter.PATH,
                description="The source's id.",
            ),
            *HealthParameters.openapi(),
            IF_NONE_MATCH,
        ],
        responses={
            **svg_response("The source's check outcomes by day."),
            **NO_PARAMETERS_ERRORS,
            (404, "application/json"): OpenApiResponse(
                response=ErrorDetailSerializer, description="No source has this id."
            ),
        },
    )
    def get(self, request: Request, id: int) -> HttpResponseBase:  # the path's name
        if not 0 < id <= _MAX_ROW_ID:
            raise NotFound(f"Not found: ids are whole numbers from 1 to {_MAX_ROW_ID}.")

        def build() -> Response:
            source = Source.objects.filter(pk=id).values("url", "title", "fetched_title").first()
            if source is None:
                raise NotFound(f"There is no source with the id {id}.")
            name = source["title"] or source["fetched_title"] or source["url"]
            subject = f"source {id} ({shorten(name, 60)})"
            return Response(health_chart(request, subject, source_id=id))

        return conditional_picture(request, build)


class SourcesHealthView(PictureView):
    @extend_schema(
        operation_id="v1_sources_health_svg",
        summary="Every source's check outcomes by day, as a picture",
        description=f"An SVG picture of all checks over the last `days` days. {HEALTH_DESCRIPTION}",
        parameters=[*HealthParameters.openapi(), IF_NONE_MATCH],
        responses={
            **svg_response("All sources' check outcomes by day."),
            **NO_PARAMETERS_ERRORS,
        },
    )
    def get(self, request: Request) -> HttpResponseBase:
        return conditional_picture(request, lambda: Response(health_chart(request, "all sources")))
