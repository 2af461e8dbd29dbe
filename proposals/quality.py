"""The data-quality queue: what a curator should fix, each rule a database query.

A rule lists findings about one or two kinds of object (facts: events, then positions). Each
kind is a *branch*: a QuerySet in the queue's order (object id), so a page of findings is a
``LIMIT``/``OFFSET`` read that stops once the page is full, not an evaluation of every rule over
every row. ``RULES`` lists the rules in the order the queue shows them.

- ``page()``: one page of the queue. It reads branch after branch until the page is full; a
  branch the page starts after is counted (bounded by what is left to skip) and skipped.
- ``rule_counts()``: every rule's number of findings: one ``COUNT`` per branch, the cost of the
  whole data, so callers ask for it only when wanted.
- ``findings_for_measure()``: what is wrong with one measure, its events and its positions;
  every branch filtered by that measure through an index.
- ``findings()``: everything, in order (the report command).

One rule is not said in SQL: ``duplicate_url`` compares addresses by a key (``url_key``) that
SQLite and PostgreSQL cannot compute alike, so it reads every source's addresses (one query of
the sources table) whenever a page, a count or a filter reaches it.

"Official" has one definition, here: a source the curator marked ``is_primary`` — the
government, international organization, treaty depositary or official archive itself, never a
mirror, a news copy or an analysis. ``is_official`` says it of one source, ``official()`` as a
filter, ``official_citations`` of citations.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.urls import reverse

from proposals.models import Certainty, Citation, Event, Measure, Position
from tracker.models import Source

# --- what "official" means ----------------------------------------------------------------------


def official(prefix: str = "") -> Q:
    """Official sources as a filter; ``prefix`` reaches them through a relation
    (``official("source__")`` on citations)."""
    return Q(**{f"{prefix}is_primary": True})


def is_official(source: Source) -> bool:
    """The source is the issuing government, organization, depositary or official archive."""
    return source.is_primary


def official_citations() -> QuerySet[Citation]:
    return Citation.objects.filter(official("source__"))


DOWN_HEALTH = (Source.Health.BROKEN, Source.Health.UNREACHABLE)

# An actor does these at most once per measure (and a measure as a whole at most once): two
# records on different dates mean the sources disagree.
ONCE_ONLY_KINDS = (
    Event.Kind.SIGNED,
    Event.Kind.ENTERED_INTO_FORCE,
    Event.Kind.WITHDREW,
    Event.Kind.TERMINATED,
    Event.Kind.EXPIRED,
    Event.Kind.RATIFIED,
    Event.Kind.ACCEDED,
    Event.Kind.DECLARED_NOT_BOUND,
)
IN_FORCE_KINDS = (Event.Kind.ENTERED_INTO_FORCE, Event.Kind.IMPLEMENTED, Event.Kind.SUBSCRIBED)
AGREEMENT_FORMS = (Measure.Form.TREATY, Measure.Form.AGREEMENT, Measure.Form.MEMORANDUM)
SHARED_SCOPES = (Measure.Scope.BILATERAL, Measure.Scope.PLURILATERAL)

ObjectType = Literal["event", "position", "measure", "source"]


@dataclass(frozen=True)
class Finding:
    rule: str
    object_type: ObjectType
    object_id: int
    label: str
    reason: str
    measure: str | None = None  # the measure's slug
    actor: str | None = None  # the actor's code
    # What an API or admin link to the object needs besides its id (a measure's slug).
    object_key: str | None = None


@dataclass(frozen=True)
class Scope:
    """Findings about one measure (slug) and/or one actor (code); None: any."""

    measure: str | None = None
    actor: str | None = None


EVERYWHERE = Scope()


# --- branches: one kind of object of one rule, as a query -----------------------------------------


class Branch:
    """One rule's findings about one kind of object, as rows of a QuerySet in the queue's order.
    ``rows`` answers None when the scope leaves nothing to find (a source has no actor)."""

    rule: str

    def rows(self, scope: Scope) -> QuerySet[Any] | None:
        raise NotImplementedError

    def finding(self, row: Mapping[str, Any]) -> Finding:
        raise NotImplementedError

    def slice(self, scope: Scope, start: int, stop: int | None) -> list[Finding]:
        """Findings ``start`` to ``stop`` (None: to the end): one query."""
        rows = self.rows(scope)
        if rows is None:
            return []
        return [self.finding(row) for row in rows[start:stop]]

    def count(self, scope: Scope, at_most: int | None = None) -> int:
        """Findings in all, or ``at_most`` when there are more: one query."""
        rows = self.rows(scope)
        if rows is None:
            return 0
        return (rows if at_most is None else rows[:at_most]).count()


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    branches: tuple[Branch, ...]


def _event_label(row: Mapping[str, Any]) -> str:
    who = f"{row['actor__code']} " if row["actor__code"] else ""
    kind = Event.Kind(row["kind"]).label.lower()
    return f"{row['measure__slug']}: {who}{kind} {row['date'].isoformat()}"


def _position_label(row: Mapping[str, Any]) -> str:
    return f"{row['measure__slug']}: {row['actor__code']} {row['stance']} {row['date'].isoformat()}"


FACT_FIELDS = ("pk", "measure__slug", "actor__code", "date", "certainty")


def _in_scope(queryset: QuerySet[Any], scope: Scope) -> QuerySet[Any]:
    """A fact query limited to the scope's measure and actor."""
    if scope.measure is not None:
        queryset = queryset.filter(measure__slug=scope.measure)
    if scope.actor is not None:
        queryset = queryset.filter(actor__code=scope.actor)
    return queryset


@dataclass(frozen=True)
class FactBranch(Branch):
    """Events or positions a filter selects, by id; ``reason`` is a template naming the fact's
    ``{kind}`` ("event" or "position") and a ``{note}`` on its certainty."""

    rule: str
    object_type: Literal["event", "position"]
    select: Callable[[QuerySet[Any], str], QuerySet[Any]]
    reason: str

    def rows(self, scope: Scope) -> QuerySet[Any]:
        model: type[Event | Position] = Event if self.object_type == "event" else Position
        shown = "kind" if self.object_type == "event" else "stance"
        selected = self.select(model.objects.all(), self.object_type)
        return _in_scope(selected, scope).order_by("pk").values(*FACT_FIELDS, shown)

    def finding(self, row: Mapping[str, Any]) -> Finding:
        note = "" if row["certainty"] == Certainty.CONFIRMED else f" (marked {row['certainty']})"
        label = _event_label(row) if self.object_type == "event" else _position_label(row)
        return Finding(
            rule=self.rule,
            object_type=self.object_type,
            object_id=row["pk"],
            label=label,
            reason=self.reason.format(kind=self.object_type, note=note),
            measure=row["measure__slug"],
            actor=row["actor__code"],
        )


def _cited(target: str) -> Exists:
    return Exists(Citation.objects.filter(**{target: OuterRef("pk")}))


def _cited_officially(target: str) -> Exists:
    return Exists(official_citations().filter(**{target: OuterRef("pk")}))


def _cited_live(target: str) -> Exists:
    return Exists(
        Citation.objects.filter(**{target: OuterRef("pk")}).exclude(source__health__in=DOWN_HEALTH)
    )


def _source_count(target: str) -> Coalesce:
    counted = (
        Citation.objects.filter(**{target: OuterRef("pk")})
        .order_by()
        .values(target)
        .annotate(n=Count("source", distinct=True))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _uncited(facts: QuerySet[Any], target: str) -> QuerySet[Any]:
    return facts.filter(~_cited(target))


def _without_official_source(facts: QuerySet[Any], target: str) -> QuerySet[Any]:
    return facts.filter(_cited(target), ~_cited_officially(target))


def _all_sources_down(facts: QuerySet[Any], target: str) -> QuerySet[Any]:
    return facts.filter(_cited(target), ~_cited_live(target))


def _confirmed_on_one_unofficial_source(facts: QuerySet[Any], target: str) -> QuerySet[Any]:
    return (
        facts.filter(certainty=Certainty.CONFIRMED)
        .alias(quality_sources=_source_count(target))
        .filter(quality_sources=1)
        .filter(~_cited_officially(target))
    )


def fact_rule(
    rule: str, title: str, select: Callable[[QuerySet[Any], str], QuerySet[Any]], reason: str
) -> Rule:
    """A rule on facts' citations: the events, then the positions, ``select`` keeps (given the
    facts and the name citations reach them by, ``event`` or ``position``)."""
    return Rule(
        rule,
        title,
        (FactBranch(rule, "event", select, reason), FactBranch(rule, "position", select, reason)),
    )


# --- the other facts' rules ---------------------------------------------------------------------


class PositionWithoutQuote(Branch):
    """Positions whose quote is empty (or only blanks)."""

    rule = "position_without_quote"

    def rows(self, scope: Scope) -> QuerySet[Any]:
        quoteless = Position.objects.filter(quote__regex=r"^\s*$")
        return _in_scope(quoteless, scope).order_by("pk").values(*FACT_FIELDS, "stance")

    def finding(self, row: Mapping[str, Any]) -> Finding:
        return Finding(
            rule=self.rule,
            object_type="position",
            object_id=row["pk"],
            label=_position_label(row),
            reason="This position has no quote: add the words the actor used, as published.",
            measure=row["measure__slug"],
            actor=row["actor__code"],
        )


class ConflictingDates(Branch):
    """The same once-only event of the same measure and actor (or both measure-wide) on two
    different dates: one finding per such pair, on the later-recorded event, by its id and then
    the earlier one's. The pairs are a join of the events with their measure's events."""

    rule = "conflicting_dates"

    def rows(self, scope: Scope) -> QuerySet[Any]:
        earlier = FilteredRelation(
            "measure__events",
            condition=Q(measure__events__kind=F("kind"))
            & Q(measure__events__pk__lt=F("pk"))
            & (
                Q(measure__events__actor=F("actor"))
                | Q(measure__events__actor__isnull=True, actor__isnull=True)
            )
            # The database holds one per date; kept for safety.
            & ~Q(measure__events__date=F("date")),
        )
        pairs = (
            Event.objects.filter(kind__in=ONCE_ONLY_KINDS)
            .annotate(earlier=earlier)
            .filter(earlier__isnull=False)
        )
        return (
            _in_scope(pairs, scope)
            .order_by("pk", "earlier__pk")
            .values(
                "pk",
                "kind",
                "date",
                "measure__slug",
                "actor__code",
                earlier_pk=F("earlier__pk"),
                earlier_date=F("earlier__date"),
            )
        )

    def finding(self, row: Mapping[str, Any]) -> Finding:
        who = f"{row['actor__code']}'s" if row["actor__code"] else "The measure-wide"
        kind = Event.Kind(row["kind"]).label.lower()
        return Finding(
            rule=self.rule,
            object_type="event",
            object_id=row["pk"],
            label=_event_label(row),
            reason=f"{who} '{kind}' is recorded on {row['earlier_date'].isoformat()} (event "
            f"{row['earlier_pk']}) and on {row['date'].isoformat()}; keep the date the sources "
            "support.",
            measure=row["measure__slug"],
            actor=row["actor__code"],
        )


# --- measures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureBranch(Branch):
    """Measures a filter selects, by id. A measure concerns no one actor: under an actor
    filter there is nothing to find."""

    rule: str
    select: Callable[[], QuerySet[Measure]]
    reason: Callable[[Mapping[str, Any]], str]

    def rows(self, scope: Scope) -> QuerySet[Any] | None:
        if scope.actor is not None:
            return None
        measures = self.select()
        if scope.measure is not None:
            measures = measures.filter(slug=scope.measure)
        return measures.order_by("pk").values("pk", "slug", "title", "form", "scope")

    def finding(self, row: Mapping[str, Any]) -> Finding:
        return Finding(
            rule=self.rule,
            object_type="measure",
            object_id=row["pk"],
            label=row["title"],
            reason=self.reason(row),
            measure=row["slug"],
            object_key=row["slug"],
        )


def _in_force_without_basis() -> QuerySet[Measure]:
    """Stored as in force without an entry into force, implementation or subscription event."""
    basis = Event.objects.filter(measure=OuterRef("pk"), kind__in=IN_FORCE_KINDS)
    return Measure.objects.filter(status=Measure.Status.IN_FORCE).filter(~Exists(basis))


def _agreement_without_parties() -> QuerySet[Measure]:
    """Bilateral or plurilateral treaties, agreements and memoranda naming no party and with no
    event by any actor."""
    named = Measure.parties.through.objects.filter(measure_id=OuterRef("pk"))
    acted = Event.objects.filter(measure=OuterRef("pk"), actor__isnull=False)
    return Measure.objects.filter(form__in=AGREEMENT_FORMS, scope__in=SHARED_SCOPES).filter(
        ~Exists(named), ~Exists(acted)
    )


# --- sources -------------------------------------------------------------------------------------

SOURCE_FIELDS = ("pk", "url", "title", "fetched_title")


def _source_finding(rule: str, row: Mapping[str, Any], reason: str) -> Finding:
    return Finding(
        rule=rule,
        object_type="source",
        object_id=row["pk"],
        label=row["title"] or row["fetched_title"] or row["url"],
        reason=reason,
    )


@dataclass(frozen=True)
class SourceBranch(Branch):
    """Sources a filter selects, by id. A source concerns no one measure or actor: under
    either filter there is nothing to find."""

    rule: str
    select: Callable[[], QuerySet[Source]]
    reason: Callable[[Mapping[str, Any]], str]
    fields: tuple[str, ...] = ()

    def rows(self, scope: Scope) -> QuerySet[Any] | None:
        if scope != EVERYWHERE:
            return None
        return self.select().order_by("pk").values(*SOURCE_FIELDS, *self.fields)

    def finding(self, row: Mapping[str, Any]) -> Finding:
        return _source_finding(self.rule, row, self.reason(row))


def _uncited_sources() -> QuerySet[Source]:
    return Source.objects.filter(~Exists(Citation.objects.filter(source=OuterRef("pk"))))


def _sources_dated_otherwise() -> QuerySet[Source]:
    """The curator-entered date differs from the date found on the page."""
    return Source.objects.filter(
        published_on__isnull=False, fetched_published_on__isnull=False
    ).exclude(published_on=F("fetched_published_on"))


def url_key(url: str) -> str:
    """What is left of a normalized URL once the spellings that name the same page are set
    aside: the scheme, a leading ``www.``, the host's case and a trailing slash."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    host = host.removeprefix("www.")
    port = f":{parts.port}" if parts.port not in (None, 80, 443) else ""
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{host}{port}{path}{query}"


class DuplicateURL(Branch):
    """Pairs of sources that are the same page: URLs differing only in scheme, ``www.``,
    host case or a trailing slash, or one source's fetched final or canonical URL being the
    other's. One finding per pair, on the later source, by its id and then the earlier one's.

    ``url_key`` has no portable SQL spelling, so this reads every source's addresses (one
    query) and pairs them here."""

    rule = "duplicate_url"

    def all(self) -> list[Finding]:
        rows = list(
            Source.objects.order_by("pk").values(
                *SOURCE_FIELDS, "final_url", "fetched_canonical_url"
            )
        )
        by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_key[url_key(row["url"])].append(row)
        pairs: dict[tuple[int, int], str] = {}
        for group in by_key.values():
            for first, second in itertools.combinations(group, 2):
                pairs[(first["pk"], second["pk"])] = (
                    f"Same page as source {first['pk']} ({first['url']}): the URLs differ only "
                    "in scheme, www., case or a trailing slash. Merge the two."
                )
        for row in rows:
            for field, how in (
                ("final_url", "redirects to"),
                ("fetched_canonical_url", "names as canonical"),
            ):
                if not row[field]:
                    continue
                for other in by_key.get(url_key(row[field]), []):
                    if other["pk"] == row["pk"]:
                        continue
                    pair = (min(row["pk"], other["pk"]), max(row["pk"], other["pk"]))
                    pairs.setdefault(
                        pair,
                        f"Source {row['pk']} ({row['url']}) {how} source {other['pk']}'s URL "
                        f"({other['url']}). Merge the two.",
                    )
        row_of = {row["pk"]: row for row in rows}
        return [
            _source_finding(self.rule, row_of[later], reason)
            for (_, later), reason in sorted(
                pairs.items(), key=lambda item: (item[0][1], item[0][0])
            )
        ]

    def slice(self, scope: Scope, start: int, stop: int | None) -> list[Finding]:
        return self.all()[start:stop] if scope == EVERYWHERE else []

    def count(self, scope: Scope, at_most: int | None = None) -> int:
        found = len(self.slice(scope, 0, None))
        return found if at_most is None else min(found, at_most)


# --- links -------------------------------------------------------------------------------------

ADMIN_URL_NAMES: dict[str, str] = {
    "event": "admin:proposals_event_change",
    "position": "admin:proposals_position_change",
    "measure": "admin:proposals_measure_change",
    "source": "admin:tracker_source_change",
}


def api_path(finding: Finding) -> str:
    """Where the API serves the object (a measure by its slug, the others by id)."""
    if finding.object_type == "measure":
        return f"/api/v1/measures/{finding.object_key}/"
    return f"/api/v1/{finding.object_type}s/{finding.object_id}/"


def admin_path(finding: Finding) -> str:
    return reverse(ADMIN_URL_NAMES[finding.object_type], args=[finding.object_id])


# --- the queue -----------------------------------------------------------------------------------


RULES: tuple[Rule, ...] = (
    fact_rule(
        "uncited",
        "Fact with no citation",
        _uncited,
        "This {kind}{note} cites no source at all.",
    ),
    fact_rule(
        "no_official_source",
        "Fact with no official source",
        _without_official_source,
        "This {kind}{note} cites no official source (government, organization, depositary or "
        "official archive); add one or mark one primary.",
    ),
    fact_rule(
        "all_sources_down",
        "Fact whose every source is broken or unreachable",
        _all_sources_down,
        "Every source this {kind} cites is broken or unreachable; cite an archived copy or "
        "another source.",
    ),
    fact_rule(
        "confirmed_single_source",
        "Confirmed fact resting on one unofficial source",
        _confirmed_on_one_unofficial_source,
        "This {kind} is marked confirmed but rests on one unofficial source; add an official "
        "source or mark it reported.",
    ),
    Rule("conflicting_dates", "Once-only event recorded on two dates", (ConflictingDates(),)),
    Rule("position_without_quote", "Position without a quote", (PositionWithoutQuote(),)),
    Rule(
        "in_force_without_basis",
        "In force with no event that put it in force",
        (
            MeasureBranch(
                "in_force_without_basis",
                _in_force_without_basis,
                lambda row: (
                    "Shown as in force, but no event says it entered into force, was "
                    "implemented or was subscribed to; add that event."
                ),
            ),
        ),
    ),
    Rule(
        "agreement_without_parties",
        "Agreement naming no parties",
        (
            MeasureBranch(
                "agreement_without_parties",
                _agreement_without_parties,
                lambda row: (
                    f"A {row['scope']} {row['form']} that names no party and has no "
                    "event by any actor; name its parties."
                ),
            ),
        ),
    ),
    Rule(
        "uncited_source",
        "Source cited by nothing",
        (
            SourceBranch(
                "uncited_source",
                _uncited_sources,
                lambda row: "Nothing cites this source: cite it or delete it.",
            ),
        ),
    ),
    Rule("duplicate_url", "The same page as two sources", (DuplicateURL(),)),
    Rule(
        "source_date_mismatch",
        "Source date differs from the page's",
        (
            SourceBranch(
                "source_date_mismatch",
                _sources_dated_otherwise,
                lambda row: (
                    f"Entered as published on {row['published_on'].isoformat()}, but "
                    f"the page says {row['fetched_published_on'].isoformat()}."
                ),
                ("published_on", "fetched_published_on"),
            ),
        ),
    ),
)
RULE_IDS = tuple(rule.id for rule in RULES)


def _branches(rules: Iterable[str]) -> list[Branch]:
    wanted = set(rules)
    return [branch for rule in RULES if not wanted or rule.id in wanted for branch in rule.branches]


def page(
    *, offset: int, limit: int, rules: Iterable[str] = (), scope: Scope = EVERYWHERE
) -> list[Finding]:
    """Findings ``offset`` to ``offset + limit`` of the queue (of ``rules``, all when empty).

    Branch after branch, each read with ``LIMIT``/``OFFSET`` until the page is full: one query
    per branch the page covers. A branch that ends before the page starts answers no row; it
    is then counted, bounded by what is left to skip (one more query), and skipped."""
    found: list[Finding] = []
    skip = offset
    for branch in _branches(rules):
        wanted = limit - len(found)
        if wanted <= 0:
            break
        rows = branch.slice(scope, skip, skip + wanted)
        if rows:
            found += rows
            skip = 0
        elif skip:
            skip -= branch.count(scope, at_most=skip)
    return found


def rule_counts(*, scope: Scope = EVERYWHERE) -> dict[str, int]:
    """``{rule id: findings}`` for every rule, zeros included, in the queue's order: one
    ``COUNT`` per branch (no query where the scope rules a branch out), over all the data."""
    return {rule.id: sum(branch.count(scope) for branch in rule.branches) for rule in RULES}


def findings(
    *, rules: Iterable[str] = (), measure: str | None = None, actor: str | None = None
) -> list[Finding]:
    """Every finding of ``rules`` (all when empty), in the queue's order, limited to one
    measure slug and/or one actor code when given: one query per branch."""
    scope = Scope(measure=measure, actor=actor)
    return [found for branch in _branches(rules) for found in branch.slice(scope, 0, None)]


def findings_for_measure(measure: Measure) -> list[Finding]:
    """What is wrong with ``measure``, its events and its positions, in the queue's order.

    Every branch but the sources' reads through the measure's indexes: the cost follows the
    measure, not the data (one query per fact or measure branch)."""
    return findings(measure=measure.slug)


def counts(found: Iterable[Finding]) -> dict[str, int]:
    """``{rule id: findings}`` of ``found`` for every rule, zeros included, in the queue's
    order."""
    tally = dict.fromkeys(RULE_IDS, 0)
    for finding in found:
        tally[finding.rule] += 1
    return tally
