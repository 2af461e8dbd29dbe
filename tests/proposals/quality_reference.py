"""The data-quality rules as they were first written: each rule reads every row it concerns and
filters or pairs them in Python. ``proposals.quality`` now says each rule as a query that pages;
these are kept, unchanged, as what its answers are compared with (``test_quality_reference.py``).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from proposals.models import Certainty, Citation, Event, Measure, Position
from proposals.quality import Finding
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
class Rule:
    id: str
    title: str
    find: Callable[[], list[Finding]]


# --- facts: events and positions ----------------------------------------------------------------

FACT_FIELDS = ("pk", "measure__slug", "actor__code", "date", "certainty")


def _events() -> QuerySet[Event]:
    return Event.objects.order_by("pk")


def _positions() -> QuerySet[Position]:
    return Position.objects.order_by("pk")


def _event_label(row: Mapping[str, Any]) -> str:
    who = f"{row['actor__code']} " if row["actor__code"] else ""
    kind = Event.Kind(row["kind"]).label.lower()
    return f"{row['measure__slug']}: {who}{kind} {row['date'].isoformat()}"


def _position_label(row: Mapping[str, Any]) -> str:
    return f"{row['measure__slug']}: {row['actor__code']} {row['stance']} {row['date'].isoformat()}"


def _fact_findings(
    rule: str,
    events: QuerySet[Event],
    positions: QuerySet[Position],
    reason: Callable[[str, dict[str, Any]], str],
) -> list[Finding]:
    """Two queries: the events, then the positions, each as plain rows."""
    found = [
        Finding(
            rule=rule,
            object_type="event",
            object_id=row["pk"],
            label=_event_label(row),
            reason=reason("event", row),
            measure=row["measure__slug"],
            actor=row["actor__code"],
        )
        for row in events.values(*FACT_FIELDS, "kind")
    ]
    found += [
        Finding(
            rule=rule,
            object_type="position",
            object_id=row["pk"],
            label=_position_label(row),
            reason=reason("position", row),
            measure=row["measure__slug"],
            actor=row["actor__code"],
        )
        for row in positions.values(*FACT_FIELDS, "stance")
    ]
    return found


def _cited(target: str) -> Exists:
    return Exists(Citation.objects.filter(**{target: OuterRef("pk")}))


def _cited_officially(target: str) -> Exists:
    return Exists(official_citations().filter(**{target: OuterRef("pk")}))


def _certainty_note(row: Mapping[str, Any]) -> str:
    if row["certainty"] == Certainty.CONFIRMED:
        return ""
    return f" (marked {row['certainty']})"


def no_official_source() -> list[Finding]:
    """Cited facts none of whose sources is official. Uncited facts are ``uncited``'s."""

    def reason(kind: str, row: Mapping[str, Any]) -> str:
        return (
            f"This {kind}{_certainty_note(row)} cites no official source (government, "
            "organization, depositary or official archive); add one or mark one primary."
        )

    return _fact_findings(
        "no_official_source",
        _events().filter(_cited("event"), ~_cited_officially("event")),
        _positions().filter(_cited("position"), ~_cited_officially("position")),
        reason,
    )


def _cited_live(target: str) -> Exists:
    return Exists(
        Citation.objects.filter(**{target: OuterRef("pk")}).exclude(source__health__in=DOWN_HEALTH)
    )


def all_sources_down() -> list[Finding]:
    """Cited facts every one of whose sources is broken or unreachable."""

    def reason(kind: str, row: Mapping[str, Any]) -> str:
        return (
            f"Every source this {kind} cites is broken or unreachable; cite an archived copy or "
            "another source."
        )

    return _fact_findings(
        "all_sources_down",
        _events().filter(_cited("event"), ~_cited_live("event")),
        _positions().filter(_cited("position"), ~_cited_live("position")),
        reason,
    )


def uncited() -> list[Finding]:
    """Facts with no citation at all."""

    def reason(kind: str, row: Mapping[str, Any]) -> str:
        return f"This {kind}{_certainty_note(row)} cites no source at all."

    return _fact_findings(
        "uncited",
        _events().filter(~_cited("event")),
        _positions().filter(~_cited("position")),
        reason,
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


def confirmed_on_one_unofficial_source() -> list[Finding]:
    """Facts marked confirmed that rest on exactly one source, and not an official one."""

    def reason(kind: str, row: Mapping[str, Any]) -> str:
        return (
            f"This {kind} is marked confirmed but rests on one unofficial source; add an "
            "official source or mark it reported."
        )

    def select(queryset: QuerySet[Any], target: str) -> QuerySet[Any]:
        return (
            queryset.filter(certainty=Certainty.CONFIRMED)
            .annotate(quality_sources=_source_count(target))
            .filter(quality_sources=1)
            .filter(~_cited_officially(target))
        )

    return _fact_findings(
        "confirmed_single_source",
        select(_events(), "event"),
        select(_positions(), "position"),
        reason,
    )


def position_without_quote() -> list[Finding]:
    """Positions whose quote is empty (or only blanks). One query."""
    rows = _positions().filter(quote__regex=r"^\s*$").values(*FACT_FIELDS, "stance")
    return [
        Finding(
            rule="position_without_quote",
            object_type="position",
            object_id=row["pk"],
            label=_position_label(row),
            reason="This position has no quote: add the words the actor used, as published.",
            measure=row["measure__slug"],
            actor=row["actor__code"],
        )
        for row in rows
    ]


def conflicting_dates() -> list[Finding]:
    """The same once-only event of the same measure and actor (or both measure-wide) on two
    different dates: one finding per such pair, on the later-recorded event. One query."""
    rows = (
        Event.objects.filter(kind__in=ONCE_ONLY_KINDS)
        .order_by("measure_id", "actor_id", "kind", "pk")
        .values("pk", "measure_id", "actor_id", "kind", "date", "measure__slug", "actor__code")
    )
    found = []
    for _, group in itertools.groupby(
        rows, key=lambda r: (r["measure_id"], r["actor_id"], r["kind"])
    ):
        for first, second in itertools.combinations(list(group), 2):
            if first["date"] == second["date"]:
                continue  # the database holds one per date; kept for safety
            who = f"{second['actor__code']}'s" if second["actor__code"] else "The measure-wide"
            kind = Event.Kind(second["kind"]).label.lower()
            found.append(
                Finding(
                    rule="conflicting_dates",
                    object_type="event",
                    object_id=second["pk"],
                    label=_event_label(second),
                    reason=f"{who} '{kind}' is recorded on {first['date'].isoformat()} (event "
                    f"{first['pk']}) and on {second['date'].isoformat()}; keep the date the "
                    "sources support.",
                    measure=second["measure__slug"],
                    actor=second["actor__code"],
                )
            )
    return sorted(found, key=lambda f: f.object_id)


# --- measures ------------------------------------------------------------------------------------


def _measure_finding(rule: str, row: Mapping[str, Any], reason: str) -> Finding:
    return Finding(
        rule=rule,
        object_type="measure",
        object_id=row["pk"],
        label=row["title"],
        reason=reason,
        measure=row["slug"],
        object_key=row["slug"],
    )


def in_force_without_basis() -> list[Finding]:
    """Measures stored as in force without an entry into force, implementation or
    subscription event. One query."""
    basis = Event.objects.filter(measure=OuterRef("pk"), kind__in=IN_FORCE_KINDS)
    rows = (
        Measure.objects.filter(status=Measure.Status.IN_FORCE)
        .filter(~Exists(basis))
        .order_by("pk")
        .values("pk", "slug", "title")
    )
    return [
        _measure_finding(
            "in_force_without_basis",
            row,
            "Shown as in force, but no event says it entered into force, was implemented or "
            "was subscribed to; add that event.",
        )
        for row in rows
    ]


def agreement_without_parties() -> list[Finding]:
    """Bilateral or plurilateral treaties, agreements and memoranda naming no party and with
    no event by any actor. One query."""
    named = Measure.parties.through.objects.filter(measure_id=OuterRef("pk"))
    acted = Event.objects.filter(measure=OuterRef("pk"), actor__isnull=False)
    rows = (
        Measure.objects.filter(form__in=AGREEMENT_FORMS, scope__in=SHARED_SCOPES)
        .filter(~Exists(named), ~Exists(acted))
        .order_by("pk")
        .values("pk", "slug", "title", "form", "scope")
    )
    return [
        _measure_finding(
            "agreement_without_parties",
            row,
            f"A {row['scope']} {row['form']} that names no party and has no event by any "
            "actor; name its parties.",
        )
        for row in rows
    ]


# --- sources -------------------------------------------------------------------------------------


def _source_finding(rule: str, row: Mapping[str, Any], reason: str) -> Finding:
    return Finding(
        rule=rule,
        object_type="source",
        object_id=row["pk"],
        label=row["title"] or row["fetched_title"] or row["url"],
        reason=reason,
    )


SOURCE_FIELDS = ("pk", "url", "title", "fetched_title")


def uncited_source() -> list[Finding]:
    """Sources no citation points to. One query."""
    rows = (
        Source.objects.filter(~Exists(Citation.objects.filter(source=OuterRef("pk"))))
        .order_by("pk")
        .values(*SOURCE_FIELDS)
    )
    return [
        _source_finding("uncited_source", row, "Nothing cites this source: cite it or delete it.")
        for row in rows
    ]


def source_date_mismatch() -> list[Finding]:
    """Sources whose curator-entered date differs from the date found on the page. One query."""
    rows = (
        Source.objects.filter(published_on__isnull=False, fetched_published_on__isnull=False)
        .exclude(published_on=F("fetched_published_on"))
        .order_by("pk")
        .values(*SOURCE_FIELDS, "published_on", "fetched_published_on")
    )
    return [
        _source_finding(
            "source_date_mismatch",
            row,
            f"Entered as published on {row['published_on'].isoformat()}, but the page says "
            f"{row['fetched_published_on'].isoformat()}.",
        )
        for row in rows
    ]


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


def duplicate_url() -> list[Finding]:
    """Pairs of sources that are the same page: URLs differing only in scheme, ``www.``,
    host case or a trailing slash, or one source's fetched final or canonical URL being the
    other's. One finding per pair, on the later source. One query."""
    rows = list(
        Source.objects.order_by("pk").values(*SOURCE_FIELDS, "final_url", "fetched_canonical_url")
    )
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_key[url_key(row["url"])].append(row)
    pairs: dict[tuple[int, int], str] = {}
    for group in by_key.values():
        for first, second in itertools.combinations(group, 2):
            pairs[(first["pk"], second["pk"])] = (
                f"Same page as source {first['pk']} ({first['url']}): the URLs differ only in "
                "scheme, www., case or a trailing slash. Merge the two."
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
        _source_finding("duplicate_url", row_of[later], reason)
        for (_, later), reason in sorted(pairs.items(), key=lambda item: (item[0][1], item[0][0]))
    ]


# --- the queue -----------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule("uncited", "Fact with no citation", uncited),
    Rule("no_official_source", "Fact with no official source", no_official_source),
    Rule("all_sources_down", "Fact whose every source is broken or unreachable", all_sources_down),
    Rule(
        "confirmed_single_source",
        "Confirmed fact resting on one unofficial source",
        confirmed_on_one_unofficial_source,
    ),
    Rule("conflicting_dates", "Once-only event recorded on two dates", conflicting_dates),
    Rule("position_without_quote", "Position without a quote", position_without_quote),
    Rule(
        "in_force_without_basis",
        "In force with no event that put it in force",
        in_force_without_basis,
    ),
    Rule("agreement_without_parties", "Agreement naming no parties", agreement_without_parties),
    Rule("uncited_source", "Source cited by nothing", uncited_source),
    Rule("duplicate_url", "The same page as two sources", duplicate_url),
    Rule("source_date_mismatch", "Source date differs from the page's", source_date_mismatch),
)
RULE_IDS = tuple(rule.id for rule in RULES)


def findings(
    *, rules: Iterable[str] = (), measure: str | None = None, actor: str | None = None
) -> list[Finding]:
    """The findings of ``rules`` (all when empty), in the queue's order, limited to one
    measure slug and/or one actor code when given."""
    wanted = set(rules)
    selected = [rule for rule in RULES if not wanted or rule.id in wanted]
    return [
        finding
        for rule in selected
        for finding in rule.find()
        if (measure is None or finding.measure == measure)
        and (actor is None or finding.actor == actor)
    ]


def counts(found: Iterable[Finding]) -> dict[str, int]:
    """``{rule id: findings}`` for every rule, zeros included, in the queue's order."""
    tally = dict.fromkeys(RULE_IDS, 0)
    for finding in found:
        tally[finding.rule] += 1
    return tally
