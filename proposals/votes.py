"""Recorded votes of the UN General Assembly as positions: one dated, cited position per state
and resolution.

**The file.** A CSV in one of two layouts, told apart by the header (names are matched without
regard to case or surrounding spaces; other columns are ignored):

- the UN Digital Library's voting-data export, one row per member state and resolution:
  ``undl_id, ms_code, ms_name, ms_vote, date, session, resolution, draft, committee_report,
  meeting, title, agenda_title, subjects, [vote_note,] total_yes, total_no, total_abstentions,
  total_non_voting, total_ms, undl_link``. Required: ``resolution``, ``date``, ``ms_code``,
  ``ms_vote``; ``ms_name`` is used when the code matches no actor; the record URL is
  ``undl_link`` (or built from ``undl_id``). ``ms_vote`` is ``Y``, ``N``, ``A``, or ``X`` /
  blank for a state that did not vote;
- a minimal layout: ``resolution, date, country, vote`` (``country`` a code or a name,
  ``vote`` one of yes / no / abstain / absent), with an optional ``url`` of the voting record.

**What is written.** Yes → ``endorses``, no → ``opposes``, abstention → ``neutral``, dated the
day of the vote (precision ``day``, certainty ``confirmed``); a state that did not vote gets no
position and is counted. Each position cites the resolution's voting record (one ``Source`` per
record URL, matched as one address (``tracker.urlnorm``), created as a primary official source when
new) at the locator ``"<symbol>, recorded vote"``. A row whose state matches no actor (by code, then
by name or alias, then by the country's English name from django-countries) is counted in the report
by what the file says, never dropped silently.

**Which measure.** A resolution's votes are positions on every measure whose
``parameters["un_resolutions"]`` lists its symbol (compared without regard to case or spaces);
``measure=`` maps every resolution of the file to that one measure instead. A resolution that no
measure lists is reported and its rows are skipped, unless ``create_measures`` is set: then a
``proposal`` measure (scope ``multilateral``, venue "UN General Assembly", the given category)
is created for it, listing the symbol, so the next import finds it.

Two resolutions voted on the same day cannot go to one measure (a state has one position per
measure and day); such an import is refused. A later file with another resolution voted the
same day as an earlier one on the same measure updates that day's positions: keep such
resolutions on different measures.

**Promises.** Idempotent: a position is matched on (measure, actor, date) and only a changed
stance (or precision or certainty) is written, so importing the same file twice writes nothing
the second time. All-or-nothing: the whole file is read and checked before anything is written
(``VotesFileError`` lists every bad row by line), and the writes share one transaction. Every
write leaves an audit-history row naming ``user``. Queries: a fixed number per resolution
(rows are written with bulk inserts and updates), never one per row.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django_countries import countries
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from common.writes import User
from proposals import derived
from proposals.models import (
    Actor,
    Category,
    Certainty,
    Citation,
    DatePrecision,
    Measure,
    Position,
)
from proposals.services import measure_create
from tracker.models import Source
from tracker.urlnorm import InvalidSourceURL, url_match_key, validate_source_url
from tracker.writes import source_create

UNDL_REQUIRED = ("resolution", "date", "ms_code", "ms_vote")
MINIMAL_REQUIRED = ("resolution", "date", "country", "vote")
RECORD_URL = "https://digitallibrary.un.org/record/{undl_id}"
# Without a record URL in the file, the citation points at a search of the Digital Library's
# voting data for the symbol.
SEARCH_URL = "https://digitallibrary.un.org/search?"
PUBLISHER = "United Nations Digital Library"
VENUE = "UN General Assembly"
PARAMETER = "un_resolutions"

# Y / N / A are the Digital Library's codes; X or a blank cell is a state that did not vote.
VOTES = {
    "y": "Y",
    "yes": "Y",
    "n": "N",
    "no": "N",
    "a": "A",
    "abstain": "A",
    "abstention": "A",
    "x": "X",
    "": "X",
    "absent": "X",
    "non-voting": "X",
    "non voting": "X",
    "not voting": "X",
}
STANCES = {
    "Y": Position.Stance.ENDORSES,
    "N": Position.Stance.OPPOSES,
    "A": Position.Stance.NEUTRAL,
}
MAX_PROBLEMS_SHOWN = 20


class VotesFileError(ValueError):
    """The file's shape is wrong; nothing was written. ``problems`` name the lines."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        text = "; ".join(shown) + (f"; and {more} more" if more else "")
        super().__init__(text)
        self.problems = problems


class VotesImportError(ValueError):
    """The file is well formed but cannot be applied (e.g. a measure slug already taken);
    nothing was written."""


@dataclass(frozen=True)
class VoteRow:
    line: int
    code: str  # upper-cased code as written, or ""
    name: str  # country name as written, or ""
    vote: str  # Y | N | A | X


@dataclass
class Resolution:
    symbol: str
    date: datetime.date
    url: str  # as written in the file (or built from its record id)
    title: str
    rows: list[VoteRow] = field(default_factory=list)


@dataclass
class VotesReport:
    rows: int = 0
    non_voting: int = 0
    positions_created: int = 0
    positions_updated: int = 0
    positions_unchanged: int = 0
    citations_created: int = 0
    sources_created: int = 0
    sources_matched: int = 0
    measures_created: list[str] = field(default_factory=list)
    # What the file says about a state that matched no actor -> rows skipped for it.
    unmatched_states: Counter[str] = field(default_factory=Counter)
    # Resolution symbol -> rows skipped because no measure lists it.
    unmatched_resolutions: Counter[str] = field(default_factory=Counter)
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "rows": self.rows,
            "non_voting": self.non_voting,
            "positions": {
                "created": self.positions_created,
                "updated": self.positions_updated,
                "unchanged": self.positions_unchanged,
            },
            "citations_created": self.citations_created,
            "sources": {"created": self.sources_created, "matched": self.sources_matched},
            "measures_created": self.measures_created,
            "unmatched_states": dict(sorted(self.unmatched_states.items())),
            "unmatched_resolutions": dict(sorted(self.unmatched_resolutions.items())),
        }

    def lines(self) -> list[str]:
        """The report as text, one fact a line (the command and the admin page show this)."""
        result = [
            f"{self.rows} rows read, {self.non_voting} of them non-voting (no position)",
            f"positions: {self.positions_created} created, {self.positions_updated} updated, "
            f"{self.positions_unchanged} unchanged",
            f"citations: {self.citations_created} created",
            f"sources: {self.sources_created} created, {self.sources_matched} matched",
        ]
        if self.measures_created:
            result.append(f"measures created: {', '.join(self.measures_created)}")
        for label, n in sorted(self.unmatched_states.items()):
            result.append(f"state not matched to an actor: {label} (rows skipped: {n})")
        for symbol, n in sorted(self.unmatched_resolutions.items()):
            result.append(
                f"resolution matched by no measure: {symbol} (rows skipped: {n}; list it in a "
                f'measure\'s parameters["{PARAMETER}"], or map the file to a measure, or '
                "create measures)"
            )
        return result


def normalize_symbol(symbol: str) -> str:
    """``"a/res/78/ 32"`` and ``"A/RES/78/32"`` are the same resolution."""
    return re.sub(r"\s+", "", symbol).upper()


# --- reading ------------------------------------------------------------------------------------


def _parse_date(text: str) -> datetime.date:
    text = text.strip()
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        # "2023-10-27T00:00:00", as some exports write it
        return datetime.datetime.fromisoformat(text).date()


def _record_url(row: dict[str, str], symbol: str) -> str:
    raw = row.get("undl_link") or row.get("url") or ""
    if not raw and row.get("undl_id"):
        raw = RECORD_URL.format(undl_id=row["undl_id"].strip())
    if not raw:
        raw = SEARCH_URL + urlencode({"p": symbol, "cc": "Voting Data"})
    return validate_source_url(raw)


def read_votes_csv(text: str) -> list[Resolution]:
    """The file's resolutions with their rows, in file order. Raises ``VotesFileError``."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    header = [(name or "").strip().lower() for name in reader.fieldnames or []]
    if "ms_vote" in header or "ms_code" in header:
        required, code_column, vote_column = UNDL_REQUIRED, "ms_code", "ms_vote"
    elif "vote" in header or "country" in header:
        required, code_column, vote_column = MINIMAL_REQUIRED, "country", "vote"
    else:
        raise VotesFileError(
            [
                f"line 1: the header ({', '.join(header) or 'empty'}) is neither the UN Digital "
                "Library export (resolution, date, ms_code, ms_vote, …) nor the minimal "
                "layout (resolution, date, country, vote)"
            ]
        )
    missing = [name for name in required if name not in header]
    if missing:
        raise VotesFileError([f"line 1: missing columns: {', '.join(missing)}"])
    reader.fieldnames = header

    problems: list[str] = []
    resolutions: dict[str, Resolution] = {}
    first_vote: dict[tuple[str, str, str], tuple[int, str]] = {}
    for raw in reader:
        line = reader.line_num
        row = {key: (value or "").strip() for key, value in raw.items() if key is not None}
        symbol = normalize_symbol(row.get("resolution", ""))
        if not symbol:
            problems.append(f"line {line}: no resolution symbol")
            continue
        try:
            date = _parse_date(row.get("date", ""))
        except ValueError:
            problems.append(f"line {line}: date {row.get('date', '')!r} is not YYYY-MM-DD")
            continue
        vote = VOTES.get(row.get(vote_column, "").lower())
        if vote is None:
            problems.append(
                f"line {line}: vote {row.get(vote_column)!r} is not one of Y, N, A, X "
                "(or yes, no, abstain, absent)"
            )
            continue
        if code_column == "ms_code":
            code, name = row.get("ms_code", "").upper(), row.get("ms_name", "")
        else:
            country = row.get("country", "")
            code, name = (
                (country.upper(), "")
                if re.fullmatch(r"[A-Za-z]{3}", country)
                else (
                    "",
                    country,
                )
            )
        if not code and not name:
            problems.append(f"line {line}: no state ({code_column} is empty)")
            continue
        resolution = resolutions.get(symbol)
        if resolution is None:
            try:
                url = _record_url(row, symbol)
            except InvalidSourceURL as error:
                problems.append(f"line {line}: record URL: {error}")
                continue
            resolution = Resolution(symbol=symbol, date=date, url=url, title=row.get("title", ""))
            resolutions[symbol] = resolution
        elif resolution.date != date:
            problems.append(
                f"line {line}: {symbol} is dated {date.isoformat()} here but "
                f"{resolution.date.isoformat()} on an earlier line"
            )
            continue
        state = (symbol, code, name.casefold())
        earlier = first_vote.get(state)
        if earlier is not None:
            if earlier[1] != vote:
                problems.append(
                    f"line {line}: a second, different vote of {code or name} on {symbol} "
                    f"(the first is on line {earlier[0]})"
                )
            continue
        first_vote[state] = (line, vote)
        resolution.rows.append(VoteRow(line=line, code=code, name=name, vote=vote))
    if problems:
        raise VotesFileError(problems)
    return list(resolutions.values())


def count_rows(resolutions: Iterable[Resolution]) -> int:
    """The vote rows of a read file: the total of an import's progress bar."""
    return sum(len(resolution.rows) for resolution in resolutions)


# --- matching -----------------------------------------------------------------------------------


class _ActorIndex:
    """Actors by code and by lower-cased name or alias, read in one query."""

    def __init__(self) -> None:
        self.by_code: dict[str, int] = {}
        self.by_name: dict[str, int] = {}
        rows = Actor.objects.order_by("pk").values_list("pk", "code", "name", "aliases")
        for pk, code, name, aliases in rows:
            self.by_code[code] = pk
            for label in [name, *(aliases if isinstance(aliases, list) else [])]:
                self.by_name.setdefault(str(label).strip().casefold(), pk)
        self.cache: dict[tuple[str, str], int | None] = {}

    def find(self, code: str, name: str) -> int | None:
        key = (code, name)
        if key not in self.cache:
            self.cache[key] = self._find(code, name)
        return self.cache[key]

    def _find(self, code: str, name: str) -> int | None:
        if code in self.by_code:
            return self.by_code[code]
        if not name:
            return None
        if name.casefold() in self.by_name:
            return self.by_name[name.casefold()]
        alpha2 = countries.by_name(name)
        if isinstance(alpha2, str) and alpha2:
            return self.by_code.get(countries.alpha3(alpha2) or "")
        return None


def _measures_by_symbol() -> dict[str, list[int]]:
    result: dict[str, list[int]] = {}
    for pk, parameters in Measure.objects.order_by("pk").values_list("pk", "parameters"):
        listed = parameters.get(PARAMETER) if isinstance(parameters, dict) else None
        if isinstance(listed, str):
            listed = [listed]
        if not isinstance(listed, list):
            continue
        for symbol in listed:
            if isinstance(symbol, str) and symbol.strip():
                result.setdefault(normalize_symbol(symbol), []).append(pk)
    return result


# --- writing ------------------------------------------------------------------------------------


class _Importer:
    def __init__(
        self,
        *,
        user: User,
        measure: Measure | None,
        create_measures: bool,
        category: str,
        report: VotesReport,
    ) -> None:
        self.user = user if user is not None and user.is_authenticated else None
        self.measure = measure
        self.create_measures = create_measures
        self.category = category
        self.report = report
        self.actors = _ActorIndex()
        self.measures = {} if measure is not None else _measures_by_symbol()
        self.voted_on: dict[tuple[int, datetime.date], str] = {}

    def measure_ids(self, resolution: Resolution) -> list[int]:
        if self.measure is not None:
            return [self.measure.pk]
        found = self.measures.get(resolution.symbol)
        if found:
            return found
        if not self.create_measures:
            return []
        slug = slugify(resolution.symbol.replace("/", " "))
        title = resolution.title or f"UN General Assembly resolution {resolution.symbol}"
        try:
            created = measure_create(
                user=self.user,
                fields={
                    "slug": slug,
                    "title": title[:300],
                    "summary": f"Created from the recorded vote on {resolution.symbol}.",
                    "form": Measure.Form.PROPOSAL,
                    "scope": Measure.Scope.MULTILATERAL,
                    "venue": VENUE,
                    "parameters": {PARAMETER: [resolution.symbol]},
                },
                categories=[self.category],
            )
        except ValidationError as error:
            raise VotesImportError(
                f"cannot create a measure for {resolution.symbol} (slug {slug!r}): "
                f"{' '.join(error.messages)} — list the symbol in that measure's "
                f'parameters["{PARAMETER}"] instead'
            ) from None
        self.report.measures_created.append(created.slug)
        self.measures[resolution.symbol] = [created.pk]
        return [created.pk]

    def source(self, resolution: Resolution, known: dict[str, Source]) -> Source:
        source = known.get(url_match_key(resolution.url))
        if source is not None:
            self.report.sources_matched += 1
            return source
        source = source_create(
            user=self.user,
            fields={
                "url": resolution.url,
                "title": f"Voting record: {resolution.symbol}"[:500],
                "publisher": PUBLISHER,
                "kind": Source.Kind.OFFICIAL_STATEMENT,
                "is_primary": True,
            },
        )
        known[source.url_key] = source
        self.report.sources_created += 1
        return source

    def stances(self, resolution: Resolution) -> dict[int, str]:
        """``{actor id: stance}`` of the states that voted and match an actor."""
        result: dict[int, str] = {}
        for row in resolution.rows:
            if row.vote == "X":
                self.report.non_voting += 1
                continue
            actor_id = self.actors.find(row.code, row.name)
            if actor_id is None:
                self.report.unmatched_states[" ".join(filter(None, (row.code, row.name)))] += 1
                continue
            result[actor_id] = STANCES[row.vote]
        return result

    def write(self, resolution: Resolution, sources: dict[str, Source]) -> None:
        stances = self.stances(resolution)
        if not stances:
            return
        measure_ids = self.measure_ids(resolution)
        if not measure_ids:
            self.report.unmatched_resolutions[resolution.symbol] += len(stances)
            return
        for measure_id in measure_ids:
            # A state has one position per measure and day: two votes that day would fight
            # over it.
            other = self.voted_on.setdefault((measure_id, resolution.date), resolution.symbol)
            if other != resolution.symbol:
                raise VotesImportError(
                    f"{other} and {resolution.symbol} were both voted on "
                    f"{resolution.date.isoformat()} and both map to one measure, which can hold "
                    "one position per state and day: map them to different measures"
                )
        source = self.source(resolution, sources)
        locator = f"{resolution.symbol}, recorded vote"
        reason = f"Recorded vote on {resolution.symbol}"
        for measure_id in measure_ids:
            self._write_positions(measure_id, resolution, stances, source, locator, reason)

    def _write_positions(
        self,
        measure_id: int,
        resolution: Resolution,
        stances: dict[int, str],
        source: Source,
        locator: str,
        reason: str,
    ) -> None:
        wanted = {
            "date_precision": DatePrecision.DAY,
            "certainty": Certainty.CONFIRMED,
        }
        # Query: the positions already on this measure on the day of the vote.
        existing = {
            p.actor_id: p
            for p in Position.objects.filter(measure_id=measure_id, date=resolution.date)
        }
        new: list[Position] = []
        changed: list[Position] = []
        changed_fields: set[str] = set()
        now = timezone.now()
        for actor_id, stance in stances.items():
            position = existing.get(actor_id)
            if position is None:
                new.append(
                    Position(
                        measure_id=measure_id,
                        actor_id=actor_id,
                        date=resolution.date,
                        stance=stance,
                        **wanted,
                    )
                )
                continue
            differs = [
                name
                for name, value in {"stance": stance, **wanted}.items()
                if getattr(position, name) != value
            ]
            if not differs:
                self.report.positions_unchanged += 1
                continue
            position.stance = stance
            for name, value in wanted.items():
                setattr(position, name, value)
            position.updated_at = now  # bulk updates skip auto_now
            changed.append(position)
            changed_fields.update(differs)
        history = {"default_user": self.user, "default_change_reason": reason}
        if new:
            # Queries: the insert, then the history insert.
            new = bulk_create_with_history(new, Position, **history)
            self.report.positions_created += len(new)
        if changed:
            # Queries: the update, then the history insert.
            bulk_update_with_history(
                changed, Position, fields=[*sorted(changed_fields), "updated_at"], **history
            )
            self.report.positions_updated += len(changed)
        # Query: which of the positions already cite this record here (new ones cite nothing).
        cited = set(
            Citation.objects.filter(
                source=source,
                locator=locator,
                position__measure_id=measure_id,
                position__date=resolution.date,
            ).values_list("position_id", flat=True)
        )
        citations = [
            Citation(source=source, position_id=position.pk, locator=locator)
            for position in [*new, *(p for p in existing.values() if p.actor_id in stances)]
            if position.pk not in cited
        ]
        if citations:
            # Queries: the insert, then the history insert.
            bulk_create_with_history(citations, Citation, **history)
            self.report.citations_created += len(citations)


def votes_import(
    *,
    resolutions: list[Resolution],
    user: User,
    measure: Measure | None = None,
    create_measures: bool = False,
    category: str = Category.Code.OTHER,
    progress: Callable[[int], None] | None = None,
) -> VotesReport:
    """Write the positions of a file read by ``read_votes_csv``, all-or-nothing.

    Raises ``VotesImportError`` (nothing written) when a needed measure cannot be created.
    """
    if category not in Category.Code.values:
        raise VotesImportError(
            f"category {category!r} is not one of {', '.join(Category.Code.values)}"
        )
    report = VotesReport(rows=count_rows(resolutions))
    advance = progress or (lambda n: None)
    # Who is involved in each measure is stored once per measure, when every vote is in.
    with transaction.atomic(), derived.deferred():
        importer = _Importer(
            user=user,
            measure=measure,
            create_measures=create_measures,
            category=category,
            report=report,
        )
        # One query for every record already known.
        keys = sorted({url_match_key(resolution.url) for resolution in resolutions})
        sources = {source.url_key: source for source in Source.objects.filter(url_key__in=keys)}
        for resolution in resolutions:
            importer.write(resolution, sources)
            advance(len(resolution.rows))
    report.applied = True
    return report
