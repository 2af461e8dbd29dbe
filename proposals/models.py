"""The temporal, cited domain: actors, measures, the dated events that happen to measures, the
dated positions actors take on them, and the citations that back every fact.

Status is never typed: ``Measure.status`` (and each actor's ``MeasureParticipation``) is a stored
copy of what ``proposals.status`` derives from the events for today, kept for fast filtering and
kept equal to the derived one by ``proposals.derived``; so is ``MeasureInvolvement``, who acted
on, took a position on or is a named party of each measure.
"""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.postgres.search import SearchQuery, SearchVectorExact
from django.core.exceptions import ValidationError
from django.db import connections, models, transaction
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django_countries import countries
from simple_history.models import HistoricalRecords

from proposals import fulltext
from proposals import status as rules
from proposals.json_limits import StoredJSONDecoder, json_problem
from tracker.models import Source

if TYPE_CHECKING:
    from collections.abc import Iterable

# ISO 3166-3 codes of states that no longer exist but are party to measures we track.
HISTORICAL_STATE_CODES = {
    "SUN": "Union of Soviet Socialist Republics",
    "YUG": "Yugoslavia",
    "CSK": "Czechoslovakia",
    "DDR": "German Democratic Republic",
}


class DatePrecision(models.TextChoices):
    DAY = "day", "Day"
    MONTH = "month", "Month"
    YEAR = "year", "Year"


def check_date_precision(date: datetime.date | None, precision: str) -> None:
    """A month- or year-precision date is stored on the first day of its month or year."""
    if date is None:
        return
    if precision == DatePrecision.MONTH and date.day != 1:
        raise ValidationError(
            {"date": "With month precision, the date must be the first day of the month."}
        )
    if precision == DatePrecision.YEAR and (date.month, date.day) != (1, 1):
        raise ValidationError({"date": "With year precision, the date must be 1 January."})


def precision_constraint(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        name=name,
        condition=Q(date_precision=DatePrecision.DAY)
        | Q(date_precision=DatePrecision.MONTH, date__day=1)
        | Q(date_precision=DatePrecision.YEAR, date__month=1, date__day=1),
        violation_error_message="A month- or year-precision date must fall on the 1st.",
    )


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


# --- Actors -------------------------------------------------------------------------------------


# Fields whose bulk write changes who carries on whose participation (``proposals.derived``).
_SUCCESSION = frozenset({"successor", "successor_id"})


class ActorQuerySet(models.QuerySet["Actor"]):
    # The bulk writes that send no signal still reach the derived state (proposals.derived): a
    # new successor carries on its predecessors' participation and acts for them as a party.

    def update(self, **kwargs: Any) -> int:
        if not _SUCCESSION & kwargs.keys():
            return super().update(**kwargs)
        from proposals import derived

        with transaction.atomic(using=self.db):
            ids = set(self.values_list("pk", flat=True))
            count = super().update(**kwargs)
            derived.rederive_succession(ids)
        return count

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        objs, fields = list(objs), list(fields)
        if not _SUCCESSION & set(fields):
            return super().bulk_update(objs, fields, batch_size=batch_size)
        from proposals import derived

        with transaction.atomic(using=self.db):
            count = super().bulk_update(objs, fields, batch_size=batch_size)
            derived.rederive_succession(obj.pk for obj in objs)
        return count

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        # A new actor carries on nobody's participation yet; an upsert may change a successor.
        if not _SUCCESSION & set(kwargs.get("update_fields") or ()):
            return super().bulk_create(objs, *args, **kwargs)
        from proposals import derived

        with transaction.atomic(using=self.db):
            created = super().bulk_create(objs, *args, **kwargs)
            codes = [actor.code for actor in created]
            derived.rederive_succession(self.filter(code__in=codes).values_list("pk", flat=True))
        return created

    def successor_map(self) -> dict[str, str]:
        """``{predecessor code: successor code}``, e.g. ``{"SUN": "RUS"}``."""
        return dict(self.filter(successor__isnull=False).values_list("code", "successor__code"))

    def with_related(self) -> ActorQuerySet:
        # Every actor row shows its successor's code: one join instead of a query per row.
        return self.select_related("successor")


def lineage(code: str, successor_of: dict[str, str]) -> set[str]:
    """``code`` and every actor it succeeded, directly or not: ``{"RUS", "SUN"}`` for RUS."""
    codes = {code}
    grew = True
    while grew:
        before = len(codes)
        codes |= {old for old, new in successor_of.items() if new in codes}
        grew = len(codes) != before
    return codes


class Actor(TimestampedModel):
    class Kind(models.TextChoices):
        STATE = "state", "State"
        ORGANIZATION = "organization", "International organization"

    code = models.CharField(
        max_length=16,
        unique=True,
        help_text="ISO 3166-1 alpha-3 for states (ISO 3166-3 for former states, e.g. SUN); "
        "a short upper-case code for organizations (NATO).",
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STATE)
    aliases = models.JSONField(default=list, blank=True, help_text="Other names, as a list.")
    successor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="predecessors",
        help_text="The actor that carries on this one's commitments (USSR → Russia).",
    )

    history = HistoricalRecords()
    objects = ActorQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                name="actor_code_upper_case",
                condition=Q(code=Upper("code")) & ~Q(code=""),
                violation_error_message="An actor code is written in upper case.",
            ),
            models.CheckConstraint(
                name="actor_not_own_successor",
                condition=~Q(successor=models.F("pk")),
                violation_error_message="An actor cannot be its own successor.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self) -> None:
        super().clean()
        self.code = (self.code or "").strip().upper()
        if self.kind == self.Kind.STATE and not is_known_state_code(self.code):
            raise ValidationError(
                {
                    "code": f"{self.code!r} is not an ISO 3166-1 alpha-3 country code "
                    "(nor a former state's ISO 3166-3 code such as SUN)."
                }
            )
        if self.kind == self.Kind.ORGANIZATION and not re.search(
            ORGANIZATION_CODE_PATTERN, self.code
        ):
            raise ValidationError(
                {
                    "code": f"{self.code!r} is not an organization's code: a capital letter, "
                    "then capital letters, digits or hyphens, at most 16 (NATO, G20)."
                }
            )
        if not isinstance(self.aliases, list) or not all(
            isinstance(alias, str) for alias in self.aliases
        ):
            raise ValidationError({"aliases": "Aliases must be a list of names."})
        if problem := json_problem(self.aliases):
            raise ValidationError({"aliases": problem})


# An organization's code; the API's schema states the same pattern.
ORGANIZATION_CODE_PATTERN = r"^[A-Z][A-Z0-9-]{0,15}$"


def state_codes() -> list[str]:
    """Every code a state may have: ISO 3166-1 alpha-3 and the former states' ISO 3166-3."""
    return sorted({countries.alpha3(code) for code, _ in countries} | set(HISTORICAL_STATE_CODES))


def is_known_state_code(code: str) -> bool:
    if code in HISTORICAL_STATE_CODES:
        return True
    alpha2 = countries.alpha2(code)
    return bool(alpha2) and countries.alpha3(alpha2) == code


# --- Measures -----------------------------------------------------------------------------------


class Category(models.Model):
    """One of the fixed kinds of measure; rows are created by a migration."""

    class Code(models.TextChoices):
        HOTLINE = "hotline", "Hotline or crisis-management framework"
        LAUNCH_NOTIFICATION = "launch_notification", "Advance notification of missile launches"
        DEPLOYMENT_ZONE_LIMIT = "deployment_zone_limit", "Restricted deployment zone"
        ARMS_LIMIT = "arms_limit", "Limits on missile capabilities and numbers"
        TRANSPARENCY = "transparency", "Transparency measure"
        INCIDENT_PREVENTION = "incident_prevention", "Incident prevention"
        OTHER = "other", "Other"

    code = models.CharField(max_length=32, primary_key=True, choices=Code.choices)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.get_code_display()


MEASURE_ORDERING = ["slug"]  # the default order of measures, and the tie-break of a search
SEARCH_RANK = "search_rank"  # the alias of a ranked search's group (MeasureQuerySet.search)

# Fields whose bulk update makes the stored status stale (``proposals.derived``).
_STATUS_INPUTS = frozenset({"scope", "status", "status_possible"})


class MeasureQuerySet(models.QuerySet["Measure"]):
    # The groups of a ranked search's order, best first (``search``); kept by every copy.
    _search_groups: tuple[Any, ...] = ()

    # The bulk writes that send no signal still reach the derived status (proposals.derived).

    def update(self, **kwargs: Any) -> int:
        if not _STATUS_INPUTS & kwargs.keys():
            return super().update(**kwargs)
        from proposals import derived

        with transaction.atomic(using=self.db):
            ids = list(self.values_list("pk", flat=True))
            count = super().update(**kwargs)
            derived.rederive(ids)
        return count

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        objs, fields = list(objs), list(fields)
        if not _STATUS_INPUTS & set(fields):
            return super().bulk_update(objs, fields, batch_size=batch_size)
        from proposals import derived

        with transaction.atomic(using=self.db):
            count = super().bulk_update(objs, fields, batch_size=batch_size)
            derived.rederive(obj.pk for obj in objs)
        return count

    def in_category(self, code: str) -> MeasureQuerySet:
        return self.filter(categories__code=code)

    def in_categories(self, codes: Iterable[str]) -> MeasureQuerySet:
        # EXISTS rather than a join: a measure in two of the codes must not appear twice.
        through = Measure.categories.through.objects.filter(
            measure_id=models.OuterRef("pk"), category_id__in=list(codes)
        )
        return self.filter(models.Exists(through))

    def involving(self, code: str, *, actor_id: int | None = None) -> MeasureQuerySet:
        """Measures on which the actor acted (an event), took a position or is a named party,
        at any date: one ``EXISTS`` on the stored rows of ``MeasureInvolvement`` (kept by
        ``proposals.derived``), a probe of the ``(actor, measure)`` index.

        ``actor_id``: the actor's id, when the caller has read it. As a literal, PostgreSQL
        weighs the actor's rows: for a common actor it walks the measures in order and probes
        (a page costs a probe per measure walked), for a rare one it reads its few rows first.
        Without it, the id comes from a scalar subquery (not a join on the code), which the
        planner takes for an actor of average size, and a rare actor's page walks every
        measure."""
        actor: Any = actor_id
        if actor is None:
            actor = models.Subquery(Actor.objects.filter(code=code).values("pk"))
        return self.filter(
            models.Exists(
                MeasureInvolvement.objects.filter(measure_id=models.OuterRef("pk"), actor_id=actor)
            )
        )

    def with_current_stance(
        self,
        *,
        code: str,
        stances: Iterable[str],
        on: datetime.date | None = None,
        certain_only: bool = False,
    ) -> MeasureQuerySet:
        """Measures whose latest position by the actor (on ``on``, else today) is one of
        ``stances`` — or may be, on a day inside a coarse position's period, unless
        ``certain_only``.

        The rules of ``proposals.status.current_candidates``, as one SQL condition: a position
        taken by ``on`` is a candidate unless a position *certainly* taken by then comes after
        it; the answer is certain when every candidate has the same stance and one of them was
        certainly taken. The database reads the actor's positions of the measures it returns
        (and, to count them, every measure it may match), through the ``(actor, measure, date)``
        index, instead of all of the actor's positions being read into Python.
        """
        on = on or timezone.localdate()
        wanted = list(stances)
        taken = Position.objects.filter(
            measure_id=models.OuterRef("measure_id"),
            actor_id=models.OuterRef("actor_id"),
            date__lte=on,
        )
        later = Q(date__gt=models.OuterRef("date")) | Q(
            date=models.OuterRef("date"), pk__gt=models.OuterRef("pk")
        )
        settled = certainly_taken_by(on)
        # The actor's id by a scalar subquery, not a join on its code: the planner then knows
        # the positions are one actor's, and reads them through the index instead of walking
        # every measure's positions when a count or a page needs only the first matches.
        actor_id = models.Subquery(Actor.objects.filter(code=code).values("pk"))
        candidates = Position.objects.filter(
            actor_id=actor_id, date__lte=on, measure_id=models.OuterRef("pk")
        ).exclude(models.Exists(taken.filter(later).filter(settled)))
        if certain_only:
            # The latest certainly taken position, and no other candidate with another stance.
            differing = ~Q(stance=models.OuterRef("stance"))
            candidates = candidates.filter(settled).exclude(
                models.Exists(taken.filter(later).filter(differing))
            )
        return self.filter(models.Exists(candidates.filter(stance__in=wanted)))

    def with_status_on(
        self, *, statuses: Iterable[str], on: datetime.date, certain_only: bool = False
    ) -> MeasureQuerySet:
        """Measures whose status on day ``on`` is one of ``statuses`` — or may be, on a day
        inside a coarse event's period, unless ``certain_only``: from the stored status spans
        (``proposals.spans``, the rules' answers over time), one index probe per measure looked
        at; the stored ``status`` serves today's filter (``with_stored_status``)."""
        spans = StatusSpan.objects.filter(
            holding_on(on),
            _stored_is("status", statuses, certain_only=certain_only),
            measure_id=models.OuterRef("pk"),
        )
        return self.filter(models.Exists(spans))

    def with_stored_status(
        self, *, statuses: Iterable[str], certain_only: bool = False
    ) -> MeasureQuerySet:
        """Today's status, from the stored copy (``proposals.derived``): an indexed filter."""
        return self.filter(
            _stored_is("status", statuses, certain_only=certain_only, possible="status_possible")
        )

    def with_participation(
        self,
        *,
        code: str,
        participations: Iterable[str],
        on: datetime.date,
        certain_only: bool = False,
    ) -> MeasureQuerySet:
        """Measures in which the actor's participation on ``on`` is one of ``participations``
        — or may be, unless ``certain_only`` (a successor carries on its predecessors'
        participation, and named parties take part through the measure's own events, as in
        ``proposals.status``): from the stored participation spans (``proposals.spans``), one
        index probe per measure looked at."""
        actor_id = models.Subquery(Actor.objects.filter(code=code).values("pk"))
        spans = ParticipationSpan.objects.filter(
            holding_on(on),
            _stored_is("participation", participations, certain_only=certain_only),
            measure_id=models.OuterRef("pk"),
            actor_id=actor_id,
        )
        return self.filter(models.Exists(spans))

    def with_stored_participation(
        self, *, code: str, participations: Iterable[str], certain_only: bool = False
    ) -> MeasureQuerySet:
        """Today's participation (``with_participation`` for today), from the stored rows
        (``MeasureParticipation``, kept by ``proposals.derived``): an index range scan of the
        actor's rows with those values, and of its uncertain ones unless ``certain_only``."""
        condition = _stored_is("participation", participations, certain_only=certain_only)
        rows = MeasureParticipation.objects.filter(condition, actor__code=code)
        return self.filter(pk__in=rows.values("measure_id"))

    def search(self, text: str, *, ranked: bool = True) -> MeasureQuerySet:
        """Measures matching ``text`` in web-search syntax (``proposals.fulltext``), through the
        search index of either database; when ``ranked``, best first: the measures whose title
        alone satisfies the query, then those whose venue alone does, then the rest, each group
        in the default order (``ranked_page_ids`` reads a page of them group by group)."""
        matching: MeasureQuerySet
        if connections[self.db].vendor == "postgresql":
            query = SearchQuery(text, search_type="websearch", config="english")
            matching = self.alias(search_vector=fulltext.StoredVector()).filter(search_vector=query)
            groups: list[Any] = [
                SearchVectorExact(fulltext.WeightFilter(fulltext.StoredVector(), weight), query)
                for weight in ("a", "b")  # the title, the venue
            ]
        else:
            plan = fulltext.fts5_match(text)
            if plan.excluding:
                # An alternative made only of exclusions (``-word``) holds for the measures the
                # index does not find: subqueries.
                matching = self.filter(_fts5_condition(plan))
            elif plan.matching is None:
                return self.none()  # only stop words: nothing to look for, as on PostgreSQL
            else:
                matching = self.filter(search_entry__document__match=plan.matching)  # a join
            groups = [_fts5_condition(plan, column) for column in ("title", "venue")]
        if not ranked:
            return matching
        rank = models.Case(
            *(models.When(group, then=models.Value(number)) for number, group in enumerate(groups)),
            default=models.Value(len(groups)),
        )
        ranked_qs = matching.alias(**{SEARCH_RANK: rank}).order_by(SEARCH_RANK, *MEASURE_ORDERING)
        ranked_qs._search_groups = tuple(groups)
        return ranked_qs

    def ranked_page_ids(self, start: int, stop: int) -> list[int] | None:
        """The ids of rows ``start`` to ``stop`` of a ranked search, in its order; None when the
        queryset is not one.

        The rank's ``ORDER BY`` would make the database rank every match to find the first ones
        (a common word is in most measures). Each group of the rank is instead read on its own in
        the default order, as far as the page needs, so that the database can stop early: a walk
        of the slug index while the group is common, its full-text index while it is rare. A
        group that ends before the page does is known whole, and the next one starts after it."""
        if not self._search_groups or self.query.order_by[:1] != (SEARCH_RANK,):
            return None
        in_order = self.order_by(*MEASURE_ORDERING).values_list("pk", flat=True)
        ids: list[int] = []
        before = 0  # the rows of the groups read so far, all of them
        for number in range(len(self._search_groups) + 1):
            group = in_order
            for earlier in self._search_groups[:number]:
                group = group.exclude(earlier)
            if number < len(self._search_groups):
                group = group.filter(self._search_groups[number])
            wanted = stop - before
            found = list(group[:wanted])
            ids += found[max(0, start - before) :]
            if len(found) == wanted:
                break
            before += len(found)
        return ids

    def _clone(self) -> Any:
        clone = super()._clone()  # type: ignore[misc]
        clone._search_groups = self._search_groups
        return clone

    def with_related(self) -> MeasureQuerySet:
        """Everything a measure's page shows, in a fixed number of queries."""
        cited = models.Prefetch("citations", queryset=Citation.objects.select_related("source"))
        events: models.QuerySet[Event] = Event.objects.select_related("actor")
        positions: models.QuerySet[Position] = Position.objects.select_related("actor")
        return self.select_related("parent").prefetch_related(
            # The category codes of every measure, in one query.
            "categories",
            # Each event's actor and citations (with their sources), not a query per event.
            models.Prefetch("events", queryset=events.prefetch_related(cited)),
            # Likewise for positions.
            models.Prefetch("positions", queryset=positions.prefetch_related(cited)),
            # The measure's own citations with their sources.
            cited,
        )

    def for_admin_list(self) -> MeasureQuerySet:
        # The changelist shows the parent's title and the categories of every row.
        return self.select_related("parent").prefetch_related("categories")


_Row = TypeVar("_Row", bound=models.Model)


class MeasureRowQuerySet(models.QuerySet[_Row]):
    """The rows of a measure that its derived state reads (events, named parties, positions).
    The bulk writes that send no signal still reach that state (``proposals.derived``): each
    names the measures its rows were on and are on now, in the writer's transaction — without a
    savepoint of its own, as Django's own bulk writes: a failure undoes the whole transaction.
    ``bulk_update`` writes through ``update``, batch by batch."""

    # The fields whose write can change the derived state; ``None``: any of them.
    derived_from: frozenset[str] | None = None
    # True when these rows feed only the measures' involvement (no status, no participation).
    involvement_only = False

    def _rederive(self, measure_ids: Iterable[int]) -> None:
        from proposals import derived

        derived.rederive(measure_ids, involvement_only=self.involvement_only)

    def update(self, **kwargs: Any) -> int:
        if self.derived_from is not None and not self.derived_from & kwargs.keys():
            return super().update(**kwargs)
        with transaction.atomic(using=self.db, savepoint=False):
            before = list(self.values_list("pk", "measure_id"))
            count = super().update(**kwargs)
            ids = {measure_id for _, measure_id in before}
            moved_to = kwargs.get("measure", kwargs.get("measure_id"))
            if hasattr(moved_to, "resolve_expression"):
                # Each row's own measure (bulk_update's CASE): read where they went.
                moved = self.model._default_manager.filter(pk__in=[pk for pk, _ in before])
                ids |= set(moved.values_list("measure_id", flat=True))
            elif moved_to is not None:
                ids.add(getattr(moved_to, "pk", moved_to))
            self._rederive(ids)
        return count

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        with transaction.atomic(using=self.db, savepoint=False):
            created: list[Any] = super().bulk_create(objs, *args, **kwargs)
            self._rederive(row.measure_id for row in created)
        return created


class MeasurePartyQuerySet(MeasureRowQuerySet["MeasureParty"]):
    """Named parties: a write of any of their fields reaches the derived state."""


class MeasureParty(models.Model):
    """One named party of a measure (the rows of ``Measure.parties``). An explicit model, not
    Django's hidden one, so that every write of it reaches the derived status."""

    measure = models.ForeignKey("Measure", on_delete=models.CASCADE, related_name="party_rows")
    actor = models.ForeignKey(Actor, on_delete=models.PROTECT, related_name="+")

    objects = MeasurePartyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["measure", "actor"], name="unique_measure_party"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_id} in {self.measure_id}"


class Measure(TimestampedModel):
    class Form(models.TextChoices):
        TREATY = "treaty", "Treaty"
        AGREEMENT = "agreement", "Agreement"
        MEMORANDUM = "memorandum", "Memorandum"
        POLITICAL_COMMITMENT = "political_commitment", "Political commitment"
        UNILATERAL_DECLARATION = "unilateral_declaration", "Unilateral declaration"
        PROPOSAL = "proposal", "Proposal"

    class Scope(models.TextChoices):
        BILATERAL = "bilateral", "Bilateral"
        PLURILATERAL = "plurilateral", "Plurilateral"
        MULTILATERAL = "multilateral", "Multilateral"
        UNILATERAL = "unilateral", "Unilateral"

    class Status(models.TextChoices):
        # The values of proposals.status.MeasureStatus; a test keeps the two in step.
        PROPOSED = "proposed", "Proposed"
        SIGNED = "signed", "Signed"
        IN_FORCE = "in_force", "In force"
        SUSPENDED = "suspended", "Suspended"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        TERMINATED = "terminated", "Terminated"

    slug = models.SlugField(max_length=120, unique=True)
    title = models.CharField(max_length=300)
    summary = models.TextField(blank=True)
    categories = models.ManyToManyField(Category, related_name="measures")
    form = models.CharField(max_length=32, choices=Form.choices)
    scope = models.CharField(max_length=16, choices=Scope.choices)
    venue = models.CharField(
        max_length=200,
        blank=True,
        help_text="Where it was negotiated or is discussed: Conference on Disarmament, "
        "UN General Assembly First Committee, bilateral talks …",
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="The measure this one amends, extends or implements.",
    )
    parameters = models.JSONField(
        default=dict,
        blank=True,
        decoder=StoredJSONDecoder,
        help_text='Free-form facts, e.g. {"range_km": [500, 5500]}.',
    )
    parties = models.ManyToManyField(
        Actor,
        blank=True,
        through=MeasureParty,
        related_name="named_in",
        help_text="The states or organizations an agreement is between. A measure-wide "
        "signature or entry into force makes each of them a signatory or a party (their own "
        "events still override), and on a bilateral measure a party's withdrawal or suspension "
        "ends or suspends the measure.",
    )
    status = models.CharField(
        max_length=16,
        choices=Status.choices,
        blank=True,
        db_index=True,
        editable=False,
        help_text="Today's status, derived from the measure's events, scope and parties; "
        "empty while uncertain. Never typed.",
    )
    status_possible = models.CharField(
        max_length=120,
        blank=True,
        editable=False,
        help_text="While today's status is uncertain (a coarse date), every value it may have, "
        "as ,in_force,terminated, (none: did not exist yet); empty when certain.",
    )
    status_computed_on = models.DateField(null=True, blank=True, editable=False)

    history = HistoricalRecords(
        m2m_fields=[categories, parties], excluded_fields=["status_computed_on"]
    )
    objects = MeasureQuerySet.as_manager()

    class Meta:
        ordering = MEASURE_ORDERING
        indexes = [
            models.Index(fields=["updated_at", "id"]),
            # The list's order with the id: a deep page's OFFSET walks this index alone
            # (proposals.api.pagination), and a cursor page is a range of it.
            models.Index(fields=["slug", "id"], name="measure_slug_id"),
            # The other orders a client may ask for (`ordering=`), read a page at a time.
            models.Index(fields=["title", "id"], name="measure_title_id"),
            models.Index(fields=["created_at", "id"], name="measure_created_id"),
        ]
        constraints = [
            models.CheckConstraint(
                name="measure_not_own_parent",
                condition=~Q(parent=models.F("pk")),
                violation_error_message="A measure cannot amend itself.",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        super().clean()
        if not isinstance(self.parameters, dict):
            raise ValidationError({"parameters": "Parameters must be a JSON object."})
        if problem := json_problem(self.parameters):
            raise ValidationError({"parameters": problem})
        ancestor, seen = self.parent, set()
        while ancestor is not None:
            if ancestor.pk == self.pk and self.pk is not None:
                raise ValidationError({"parent": "This would make the measure its own ancestor."})
            if ancestor.pk in seen:
                break
            seen.add(ancestor.pk)
            ancestor = ancestor.parent

    def status_on(self, on: datetime.date | None = None) -> rules.Answer[rules.MeasureStatus]:
        facts, measure = rule_inputs([self.pk])[self.pk]
        return rules.status_on(
            facts,
            on=on or timezone.localdate(),
            measure=measure,
            successor_of=Actor.objects.successor_map(),
        )

    def participations_on(
        self, on: datetime.date | None = None
    ) -> dict[str, rules.Answer[rules.Participation]]:
        facts, measure = rule_inputs([self.pk])[self.pk]
        return rules.participations_on(
            facts,
            on=on or timezone.localdate(),
            measure=measure,
            successor_of=Actor.objects.successor_map(),
        )


def certainly_taken_by(on: datetime.date) -> Q:
    """Positions or events certainly dated on or before ``on``: the whole period of a month or
    year precision date has ended by then (``proposals.status.period_end(date) <= on``), as a
    condition on the stored date, which is the first day of that period."""
    try:
        following = on + datetime.timedelta(days=1)
    except OverflowError:  # the last day there is: every period has ended
        return Q(date__lte=on)
    month_start = following.replace(day=1)
    months = Q(date_precision=DatePrecision.MONTH)
    if (month_start.year, month_start.month) > (1, 1):
        previous = month_start - datetime.timedelta(days=1)
        months &= Q(date__lte=previous.replace(day=1))
    else:
        months &= Q(pk__in=[])
    years = Q(date_precision=DatePrecision.YEAR)
    if following.year > 1:
        years &= Q(date__lte=datetime.date(following.year - 1, 1, 1))
    else:
        years &= Q(pk__in=[])
    return Q(date_precision=DatePrecision.DAY, date__lte=on) | months | years


def holding_on(on: datetime.date) -> Q:
    """Spans that hold on ``on``."""
    return Q(starts__lte=on) & (Q(ends__isnull=True) | Q(ends__gt=on))


def _stored_is(
    field: str, wanted: Iterable[str], *, certain_only: bool, possible: str = "possible"
) -> Q:
    """Stored answers (``proposals.derived.Stored``: ``field`` when certain, else every value in
    ``possible``) that are one of ``wanted`` — or may be, unless ``certain_only``."""
    values = list(wanted)
    condition = Q(**{f"{field}__in": values})
    if not certain_only:
        for value in values:
            condition |= Q(**{field: "", f"{possible}__contains": f",{value},"})
    return condition


class StatusSpan(models.Model):
    """A measure's derived status over a stretch of days (``proposals.spans``): written only by
    ``proposals.derived``, read by the ``status`` filter for a day other than today."""

    measure = models.ForeignKey(
        Measure, on_delete=models.CASCADE, related_name="status_spans", db_index=False
    )
    starts = models.DateField(help_text="The first day it holds.")
    ends = models.DateField(null=True, help_text="The first day it no longer holds; null: none.")
    status = models.CharField(max_length=32, blank=True, help_text="The status when certain.")
    possible = models.CharField(
        max_length=200, blank=True, help_text="While uncertain, every value it may have."
    )

    class Meta:
        indexes = [models.Index(fields=["measure", "starts"], name="statusspan_measure_starts")]

    def __str__(self) -> str:
        return f"{self.status or self.possible} from {self.starts}"


class ParticipationSpan(models.Model):
    """An actor's derived participation in a measure over a stretch of days (``proposals.spans``):
    written only by ``proposals.derived``, read by the ``party`` filter for a day other than
    today."""

    measure = models.ForeignKey(
        Measure, on_delete=models.CASCADE, related_name="participation_spans", db_index=False
    )
    actor = models.ForeignKey(
        Actor, on_delete=models.CASCADE, related_name="participation_spans", db_index=False
    )
    starts = models.DateField(help_text="The first day it holds.")
    ends = models.DateField(null=True, help_text="The first day it no longer holds; null: none.")
    participation = models.CharField(
        max_length=16, blank=True, help_text="The participation when certain."
    )
    possible = models.CharField(
        max_length=120, blank=True, help_text="While uncertain, every value it may have."
    )

    class Meta:
        indexes = [
            models.Index(fields=["measure", "actor", "starts"], name="partspan_measure_actor"),
            models.Index(fields=["actor", "measure"], name="partspan_actor_measure"),
        ]

    def __str__(self) -> str:
        return f"{self.participation or self.possible} from {self.starts}"


class MeasureText(models.Model):
    """SQLite only: a measure's entry in the full-text index, the FTS5 table that triggers keep
    in step with the measure table (``proposals.fulltext``). Read by ``MeasureQuerySet.search``,
    never written. PostgreSQL has no such table: its index is a column of the measure table."""

    measure = models.OneToOneField(
        Measure,
        primary_key=True,
        db_column="rowid",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="search_entry",
    )
    document = fulltext.FTS5Document(db_column=fulltext.FTS_TABLE)
    rank = models.FloatField()

    class Meta:
        managed = False
        db_table = fulltext.FTS_TABLE

    def __str__(self) -> str:
        return f"search entry of measure {self.pk}"


def _fts5_condition(plan: fulltext.FTS5Query, column: str | None = None) -> Q:
    """SQLite: the measures that satisfy ``plan`` (in ``column`` alone, when given), as
    subqueries of the full-text index."""
    index = MeasureText.objects.values("measure_id")

    def found(query: str) -> Q:
        if column is not None:
            query = fulltext.fts5_in_column(query, column)
        return Q(pk__in=index.filter(document__match=query))

    condition = found(plan.matching) if plan.matching else Q()
    for unwanted in plan.excluding:
        condition |= ~found(unwanted)
    return condition


def rule_inputs(
    measures: Iterable[int] | models.QuerySet[Measure] | None = None,
    *,
    before: datetime.date | None = None,
) -> dict[int, tuple[list[rules.EventFact], rules.MeasureFacts]]:
    """What the rules read of each measure — its events (dated on or before ``before`` when
    given) and its scope and named parties — in three queries, without model instances.

    ``measures``: ids, a queryset (used as a subquery), or ``None`` for every measure.
    """
    chosen = Measure.objects.all()
    if measures is not None:
        chosen = chosen.filter(pk__in=measures)  # type: ignore[misc]
    result: dict[int, tuple[list[rules.EventFact], rules.MeasureFacts]] = {}
    parties: dict[int, set[str]] = {}
    through = MeasureParty.objects.filter(measure__in=chosen)
    for measure_id, code in through.values_list("measure_id", "actor__code"):
        parties.setdefault(measure_id, set()).add(code)
    for pk, scope in chosen.values_list("pk", "scope").order_by():
        result[pk] = ([], rules.MeasureFacts(scope, frozenset(parties.get(pk, ()))))
    events = Event.objects.filter(measure__in=chosen)
    if before is not None:
        events = events.filter(date__lte=before)
    rows = events.values_list(
        "measure_id", "kind", "date", "actor__code", "pk", "date_precision", "certainty"
    )
    for measure_id, kind, date, actor_code, pk, precision, certainty in rows.order_by():
        result[measure_id][0].append(
            rules.EventFact(kind, date, actor_code, pk, precision, certainty)
        )
    return result


# --- Events and positions -----------------------------------------------------------------------


class Certainty(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    REPORTED = "reported", "Reported"
    DISPUTED = "disputed", "Disputed"


class EventQuerySet(MeasureRowQuerySet["Event"]):
    def on_or_before(self, date: datetime.date) -> EventQuerySet:
        return self.filter(date__lte=date)

    def with_related(self) -> EventQuerySet:
        """What an event row shows (API and admin): its measure and its actor, joined."""
        return self.select_related("measure", "actor")

    def with_citations(self) -> EventQuerySet:
        # One query for the citations (and their sources) of every event, not one per event.
        return self.prefetch_related(
            models.Prefetch("citations", queryset=Citation.objects.select_related("source"))
        )


class Event(TimestampedModel):
    class Kind(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        SIGNED = "signed", "Signed"
        RATIFIED = "ratified", "Ratified"
        ACCEDED = "acceded", "Acceded"
        SUBSCRIBED = "subscribed", "Subscribed"
        ENTERED_INTO_FORCE = "entered_into_force", "Entered into force"
        AMENDED = "amended", "Amended"
        EXTENDED = "extended", "Extended"
        SUSPENDED = "suspended", "Suspended"
        RESUMED = "resumed", "Resumed"
        WITHDRAWAL_NOTIFIED = "withdrawal_notified", "Notified withdrawal"
        WITHDREW = "withdrew", "Withdrew"
        DECLARED_NOT_BOUND = "declared_not_bound", "Declared not bound"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        TERMINATED = "terminated", "Terminated"
        IMPLEMENTED = "implemented", "Implemented"
        INCIDENT = "incident", "Incident"

    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    date = models.DateField()
    date_precision = models.CharField(
        max_length=8, choices=DatePrecision.choices, default=DatePrecision.DAY
    )
    actor = models.ForeignKey(
        Actor,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        help_text="Who acted. Leave empty for the measure as a whole (entry into force, expiry).",
    )
    scope_note = models.CharField(
        max_length=500, blank=True, help_text="What part is affected, e.g. a partial suspension."
    )
    certainty = models.CharField(
        max_length=16, choices=Certainty.choices, default=Certainty.CONFIRMED
    )
    description = models.TextField(blank=True)

    history = HistoricalRecords()
    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["date", "id"]
        indexes = [
            models.Index(fields=["measure", "date"]),
            models.Index(fields=["updated_at", "id"]),
            # The list's order: a page of it is read from the index, not sorted from every row.
            models.Index(fields=["date", "id"], name="event_date_id"),
        ]
        constraints = [
            precision_constraint("event_date_matches_precision"),
            models.UniqueConstraint(
                fields=["measure", "kind", "date"],
                condition=Q(actor__isnull=True),
                name="unique_measure_wide_event",
                violation_error_message="This measure already has this event on this date.",
            ),
            models.UniqueConstraint(
                fields=["measure", "actor", "kind", "date"],
                condition=Q(actor__isnull=False),
                name="unique_actor_event",
                violation_error_message="This actor already has this event on this date.",
            ),
        ]

    def __str__(self) -> str:
        who = f"{self.actor.code} " if self.actor_id and self.actor else ""
        return f"{who}{self.get_kind_display().lower()} {self.date.isoformat()}"

    def clean(self) -> None:
        super().clean()
        check_date_precision(self.date, self.date_precision)


class PositionQuerySet(MeasureRowQuerySet["Position"]):
    # A position changes only who is involved in a measure: its measure and its actor.
    derived_from = frozenset({"measure", "measure_id", "actor", "actor_id"})
    involvement_only = True

    def with_related(self) -> PositionQuerySet:
        """What a position row shows (API and admin): its measure and its actor, joined."""
        return self.select_related("measure", "actor")

    def with_citations(self) -> PositionQuerySet:
        # One query for the citations (and their sources) of every position, not one per row.
        return self.prefetch_related(
            models.Prefetch("citations", queryset=Citation.objects.select_related("source"))
        )


def current_on(on: datetime.date, *, certain_only: bool = False) -> Q:
    """Positions that are their actor's current one on their measure on ``on``, by the rules of
    ``proposals.status.current_candidates``: on a day inside the period of a position dated
    only to the month or year, both it and the latest certain one may be current, and both hold
    — unless ``certain_only``, which keeps only positions certainly current. Its negation: the
    positions certainly superseded (not certainly current, with ``certain_only``).

    One SQL condition on each position, as ``MeasureQuerySet.with_current_stance`` has it:
    taken by ``on``, and no position of the same actor on the same measure certainly taken by
    then comes after it (certainly current: none taken by then at all). Each position is
    checked by a probe of the ``(measure, actor, date)`` index, so a page of current positions
    reads the positions it shows and those it skips, not every position."""
    after = Position.objects.filter(
        measure_id=models.OuterRef("measure_id"),
        actor_id=models.OuterRef("actor_id"),
        date__lte=on,
    ).filter(
        Q(date__gt=models.OuterRef("date"))
        | Q(date=models.OuterRef("date"), pk__gt=models.OuterRef("pk"))
    )
    settled = certainly_taken_by(on)
    if certain_only:
        return settled & Q(date__lte=on) & ~Q(models.Exists(after))
    return Q(date__lte=on) & ~Q(models.Exists(after.filter(settled)))


class Position(TimestampedModel):
    class Stance(models.TextChoices):
        PROPOSES = "proposes", "Proposes"
        ENDORSES = "endorses", "Endorses"
        CONDITIONAL = "conditional", "Supports with conditions"
        NEUTRAL = "neutral", "Neutral"
        OPPOSES = "opposes", "Opposes"

    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="positions")
    actor = models.ForeignKey(Actor, on_delete=models.PROTECT, related_name="positions")
    stance = models.CharField(max_length=16, choices=Stance.choices)
    date = models.DateField()
    date_precision = models.CharField(
        max_length=8, choices=DatePrecision.choices, default=DatePrecision.DAY
    )
    quote = models.TextField(blank=True, help_text="A short quotation, exactly as published.")
    certainty = models.CharField(
        max_length=16,
        choices=Certainty.choices,
        default=Certainty.CONFIRMED,
        help_text="`reported` when only secondary sources say it; `disputed` when sources "
        "disagree.",
    )

    history = HistoricalRecords()
    objects = PositionQuerySet.as_manager()

    class Meta:
        ordering = ["date", "id"]
        indexes = [
            models.Index(fields=["measure", "actor", "date"]),
            models.Index(fields=["updated_at", "id"]),
            # An actor's positions, measure by measure, in the order of the rules, with what
            # the stance filters read (MeasureQuerySet.with_current_stance): on PostgreSQL they
            # need no table row.
            models.Index(
                fields=["actor", "measure", "date", "id"],
                include=["stance", "date_precision"],
                name="position_actor_measure_date",
            ),
            # The list's order, and an actor's positions in it (its page lists them oldest
            # first): a page of them is read from an index, not sorted from every row.
            models.Index(fields=["date", "id"], name="position_date_id"),
            models.Index(fields=["actor", "date", "id"], name="position_actor_date"),
        ]
        constraints = [
            precision_constraint("position_date_matches_precision"),
            models.UniqueConstraint(
                fields=["measure", "actor", "date"],
                name="unique_position_per_day",
                violation_error_message="This actor already has a position on this measure "
                "on this date; edit that one instead.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.actor_id and self.actor.code} {self.stance} ({self.date.isoformat()})"

    def clean(self) -> None:
        super().clean()
        check_date_precision(self.date, self.date_precision)


# --- Today's participations ----------------------------------------------------------------------


class MeasureParticipation(models.Model):
    """Today's participation of one actor in one measure: a stored copy of what
    ``proposals.status.participations_on`` derives, one row per actor that has a participation
    today (certain or not), so that the ``party`` filter and an actor's page read an index
    instead of every event of the actor's measures. Written only by ``proposals.derived``, with
    the measure's status, in the writer's transaction; no history (the module says why)."""

    class Participation(models.TextChoices):
        # The values of proposals.status.Participation; a test keeps the two in step.
        SIGNATORY = "signatory", "Signatory"
        PARTY = "party", "Party"
        SUSPENDED = "suspended", "Suspended"
        WITHDRAWN = "withdrawn", "Withdrawn"
        ENDED = "ended", "Ended"

    # Both indexed by the constraint and the index below, which lead with them.
    measure = models.ForeignKey(
        Measure, on_delete=models.CASCADE, related_name="participation_rows", db_index=False
    )
    actor = models.ForeignKey(
        Actor, on_delete=models.CASCADE, related_name="participation_rows", db_index=False
    )
    participation = models.CharField(
        max_length=16,
        choices=Participation.choices,
        blank=True,
        help_text="Today's participation when certain; empty while uncertain.",
    )
    possible = models.CharField(
        max_length=120,
        blank=True,
        help_text="While today's participation is uncertain (a coarse date), every value it may "
        "have, as ,none,party, (none: no participation yet); empty when certain.",
    )
    basis = models.CharField(
        max_length=16,
        choices=Certainty.choices,
        blank=True,
        help_text="The weakest certainty of the events the answer rests on; empty: none.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["measure", "actor"], name="unique_measure_participation"
            ),
        ]
        indexes = [
            # The party filter: an actor's rows of one value, and its uncertain ones ('').
            models.Index(
                fields=["actor", "participation", "measure"], name="participation_actor_value"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.actor_id} in {self.measure_id}: {self.participation or self.possible}"


class MeasureInvolvement(models.Model):
    """One actor involved in one measure: it acted on it (an event), took a position on it or
    is a named party of it, at any date. A stored copy of what the events, positions and party
    rows say, one row per (measure, actor), so that the ``actor`` filter probes an index instead
    of every event, position and party row of the actor. Written only by ``proposals.derived``,
    in the writer's transaction; no history (the module says why)."""

    # Indexed by the constraint and the index below, which lead with them.
    measure = models.ForeignKey(
        Measure, on_delete=models.CASCADE, related_name="involvement_rows", db_index=False
    )
    actor = models.ForeignKey(
        Actor, on_delete=models.CASCADE, related_name="involvement_rows", db_index=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["measure", "actor"], name="unique_measure_involvement"),
        ]
        indexes = [
            # The actor filter: the actor's measures, in measure order.
            models.Index(fields=["actor", "measure"], name="involvement_actor_measure"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_id} involved in {self.measure_id}"


# --- Citations ----------------------------------------------------------------------------------


class CitationQuerySet(models.QuerySet["Citation"]):
    def with_related(self) -> CitationQuerySet:
        # A citation row names its source and what it cites (an event or position by its
        # actor): joins, not a query per row.
        return self.select_related("source", "measure", "event__actor", "position__actor")


class Citation(TimestampedModel):
    """A source backing exactly one measure, event or position."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="citations")
    measure = models.ForeignKey(
        Measure, null=True, blank=True, on_delete=models.CASCADE, related_name="citations"
    )
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.CASCADE, related_name="citations"
    )
    position = models.ForeignKey(
        Position, null=True, blank=True, on_delete=models.CASCADE, related_name="citations"
    )
    quote = models.TextField(blank=True)
    locator = models.CharField(
        max_length=200, blank=True, help_text="Where in the source: page, paragraph, article."
    )

    history = HistoricalRecords()
    objects = CitationQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["updated_at", "id"])]
        constraints = [
            models.CheckConstraint(
                name="citation_cites_exactly_one_thing",
                condition=(
                    Q(measure__isnull=False, event__isnull=True, position__isnull=True)
                    | Q(measure__isnull=True, event__isnull=False, position__isnull=True)
                    | Q(measure__isnull=True, event__isnull=True, position__isnull=False)
                ),
                violation_error_message="A citation supports exactly one measure, event or "
                "position.",
            ),
            *(
                models.UniqueConstraint(
                    fields=["source", target, "locator"],
                    condition=Q(**{f"{target}__isnull": False}),
                    name=f"unique_{target}_citation",
                    violation_error_message="This source is already cited here at this locator.",
                )
                for target in ("measure", "event", "position")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.locator}".strip()

    @property
    def target(self) -> Measure | Event | Position | None:
        return self.measure or self.event or self.position


class ChangeLog(models.Model):
    """One row per audit-history row of the tables the change feed serves, in the order written.

    Written only by database triggers on the history tables (migration ``0007_change_log``), in
    the transaction that writes the history row, whatever wrote it: a save, a bulk operation, a
    revert, raw SQL. ``txid`` is the writing transaction's 64-bit number on PostgreSQL
    (``pg_current_xact_id()``, the top-level transaction's even inside a savepoint) and 0 on
    SQLite, where writers hold the write lock from their first write to their commit, so ids
    follow commit order. See ``proposals.changefeed`` for how the feed reads it.

    A migration that rebuilds a history table on SQLite (Django's way of altering most columns
    there) drops its trigger: ``tests/proposals/api/test_changes.py`` checks every table still
    has one.
    """

    class Table(models.TextChoices):
        MEASURES = "measures"
        ACTORS = "actors"
        SOURCES = "sources"
        EVENTS = "events"
        POSITIONS = "positions"
        CITATIONS = "citations"

    id = models.BigAutoField(primary_key=True)
    table = models.CharField(max_length=16, choices=Table.choices)
    history_id = models.BigIntegerField()
    txid = models.BigIntegerField()
    at = models.DateTimeField(help_text="The history row's ``history_date``.")

    class Meta:
        # No uniqueness on (table, history_id): a history row deleted and written again under
        # its old id is a second write, logged again.
        indexes = [
            # The poll: a range of transaction numbers, read in id order.
            models.Index(fields=["txid", "id"], name="changelog_txid_id"),
            # A first request from a date-time.
            models.Index(fields=["at"], name="changelog_at"),
        ]

    def __str__(self) -> str:
        return f"{self.table} #{self.history_id}"
