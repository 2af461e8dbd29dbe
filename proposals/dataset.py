"""The whole dataset as one document: export it, and import it back.

The format (``"format": "arms-control-tracker/1"``) is what ``GET /api/v1/export/`` serves and
what the demo data ships in: top-level ``actors``, ``sources`` and ``measures``, each measure
carrying its ``citations``, ``events`` and ``positions``, each of those carrying ``citations``.
Rows are matched on natural keys — actor ``code``, source ``url`` (as one address), measure
``slug``; an event on (measure, kind, date, actor), a position on (measure, actor, date), a citation
on (source, what it cites, locator) — so importing the same document twice changes nothing, and
importing an export of the database writes nothing at all (no ``updated_at`` moves, no history row
is added). A measure's ``status`` is exported for readers but never imported: it is derived
from the events. An import never deletes: rows missing from the document stay as they are.

An import is all-or-nothing: if any row is rejected, nothing is written, and the report says
which rows and why. With ``update_existing=False`` rows that already exist are left exactly as
they are (the demo loader uses this so a restart never undoes a curator's edit); they count as
``unchanged``.

``dataset_csv_rows`` gives the same data one table at a time, flat, for spreadsheets (a cell
that a spreadsheet would run as a formula gets a leading apostrophe; the JSON is exact).

Both exports are read in batches and produced piece by piece (``dataset_export_json``,
``dataset_csv_rows``), so the memory they take is one batch's, whatever the dataset's size, and
the number of queries grows with the number of batches, not of rows.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Case, Value, When
from django.db.models.functions import Coalesce

from proposals import derived
from proposals.models import Actor, Category, Citation, Event, Measure, MeasureParty, Position
from tracker.models import Source
from tracker.urlnorm import InvalidSourceURL, url_match_key, validate_source_url

FORMAT = "arms-control-tracker/1"
TABLES = ("actors", "sources", "measures", "events", "positions", "citations")
ACTIONS = ("created", "updated", "unchanged", "rejected")
M = TypeVar("M", bound=models.Model)


@dataclass
class RowResult:
    table: str
    key: str
    action: str  # created | updated | unchanged | rejected
    reason: str = ""


@dataclass
class ImportReport:
    rows: list[RowResult] = field(default_factory=list)
    applied: bool = False

    @property
    def rejected(self) -> list[RowResult]:
        return [row for row in self.rows if row.action == "rejected"]

    def counts(self) -> dict[str, dict[str, int]]:
        """Every table with every action, zeros included, so clients need not guess keys."""
        result = {table: dict.fromkeys(ACTIONS, 0) for table in TABLES}
        for (table, action), n in Counter((r.table, r.action) for r in self.rows).items():
            result.setdefault(table, dict.fromkeys(ACTIONS, 0))[action] = n
        return result

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "counts": self.counts(),
            "rejected": [
                {"table": r.table, "key": r.key, "reason": r.reason} for r in self.rejected
            ],
        }


class DatasetRejected(Exception):
    """Raised inside the import transaction to roll it back; carries the report."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.rejected)} rows rejected")
        self.report = report


def _messages(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(
            f"{name}: {' '.join(messages)}" if name != "__all__" else " ".join(messages)
            for name, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


def _code(value: Any) -> str:
    return str(value or "").strip().upper()


def _not_imported(model: type[models.Model]) -> list[str]:
    # Timestamps and derived fields (a measure's status) are the database's, not the document's:
    # validating them would reject rows for values the importer never sets.
    return [f.name for f in model._meta.concrete_fields if not f.editable]


class _Importer:
    def __init__(
        self, *, update_existing: bool, progress: Callable[[int], None] | None = None
    ) -> None:
        self.update_existing = update_existing
        self.report = ImportReport()
        self.progress = progress or (lambda n: None)
        # Everything that may be matched is read once, up front: a fixed number of queries
        # instead of a few per measure.
        self.actors: dict[str, Actor] = {a.code: a for a in Actor.objects.all()}
        # By key: a file may cite a known source in another spelling of its address.
        self.sources: dict[str, Source] = {s.url_key: s for s in Source.objects.all()}
        self.categories = {c.code: c for c in Category.objects.all()}
        self.events: dict[tuple[int, str, str, str | None], Event] = {
            (e.measure_id, e.kind, e.date.isoformat(), e.actor.code if e.actor else None): e
            for e in Event.objects.select_related("actor")
        }
        self.positions: dict[tuple[int, str, str], Position] = {
            (p.measure_id, p.actor.code, p.date.isoformat()): p
            for p in Position.objects.select_related("actor")
        }
        self.citations: dict[tuple[str, int, int, str], Citation] = {}
        for c in Citation.objects.all():
            target_name, target_id = _citation_target(c)
            self.citations[(target_name, target_id, c.source_id, c.locator)] = c

    # -- generic upsert ----------------------------------------------------------------------

    def upsert(
        self,
        model: type[M],
        *,
        table: str,
        key: str,
        existing: M | None,
        lookup: dict[str, Any],
        values: dict[str, Any],
    ) -> M | None:
        try:
            converted = {
                name: self._to_python(model, name, value) for name, value in values.items()
            }
        except ValidationError as error:
            self._reject(table, key, _messages(error))
            return None
        if existing is None:
            obj = model(**lookup, **converted)
            action = "created"
        else:
            obj = existing
            changed = {n: v for n, v in converted.items() if getattr(obj, n) != v}
            if not changed or not self.update_existing:
                self.report.rows.append(RowResult(table, key, "unchanged"))
                return obj
            for name, value in changed.items():
                setattr(obj, name, value)
            action = "updated"
        try:
            obj.full_clean(exclude=_not_imported(model))
        except ValidationError as error:
            self._reject(table, key, _messages(error))
            return None
        obj.save()
        self.report.rows.append(RowResult(table, key, action))
        return obj

    @staticmethod
    def _to_python(model: type[models.Model], name: str, value: Any) -> Any:
        model_field = model._meta.get_field(name)
        assert isinstance(model_field, models.Field)
        if isinstance(model_field, models.ForeignKey):
            return value
        if value is None and not model_field.null:
            value = model_field.get_default()
        try:
            return model_field.to_python(value)
        except ValidationError as error:
            raise ValidationError({name: error.messages}) from None

    def _reject(self, table: str, key: str, reason: str) -> None:
        self.report.rows.append(RowResult(table, key, "rejected", reason))

    def _rows(self, rows: Any, table: str, owner: str) -> list[dict[str, Any]]:
        """The rows that are objects; anything else is rejected with its position."""
        if rows is None:
            return []
        if not isinstance(rows, list):
            self._reject(table, owner or table, f"{table} must be a list")
            return []
        good = []
        for index, row in enumerate(rows):
            if isinstance(row, dict):
                good.append(row)
            else:
                where = f"{owner} " if owner else ""
                self._reject(table, f"{where}#{index}", "each row must be an object")
        return good

    def _require(self, row: dict[str, Any], table: str, key: str, *names: str) -> bool:
        missing = [name for name in names if row.get(name) in (None, "")]
        if missing:
            self._reject(table, key, f"missing {', '.join(missing)}")
        return not missing

    def _date(self, row: dict[str, Any], table: str, key: str) -> str | None:
        """The row's date in ISO form, so "2019-2-2" and "2019-02-02" match the same row."""
        try:
            parsed = models.DateField().to_python(row["date"])
        except ValidationError as error:
            self._reject(table, key, f"date: {' '.join(error.messages)}")
            return None
        return parsed.isoformat() if parsed else None

    def _mark_updated(self, table: str, key: str) -> None:
        for row in self.report.rows:
            if row.table == table and row.key == key and row.action == "unchanged":
                row.action = "updated"

    # -- tables ------------------------------------------------------------------------------

    def import_actors(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.progress(1)
            code = _code(row.get("code"))
            if not self._require(row, "actors", code or "?", "code", "name"):
                continue
            actor = self.upsert(
                Actor,
                table="actors",
                key=code,
                existing=self.actors.get(code),
                lookup={"code": code},
                values={
                    "name": row["name"],
                    "kind": row.get("kind") or Actor.Kind.STATE,
                    "aliases": row.get("aliases") or [],
                },
            )
            if actor:
                self.actors[code] = actor
        # Successors point at other actors, so they are set once every actor exists.
        for row in rows:
            code = _code(row.get("code"))
            actor = self.actors.get(code)
            if actor is None or "successor" not in row:
                continue
            successor_code = _code(row["successor"])
            successor = self.actors.get(successor_code) if successor_code else None
            if successor_code and successor is None:
                self._reject("actors", code, f"successor {successor_code!r} is not an actor")
                continue
            if actor.successor_id == (successor.pk if successor else None):
                continue
            if actor.successor_id is not None and not self.update_existing:
                continue
            actor.successor = successor
            try:
                actor.full_clean(exclude=_not_imported(Actor))
            except ValidationError as error:
                self._reject("actors", code, _messages(error))
                continue
            actor.save(update_fields=["successor", "updated_at"])
            self._mark_updated("actors", code)

    def import_sources(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.progress(1)
            if not self._require(row, "sources", str(row.get("url") or "?"), "url"):
                continue
            try:
                url = validate_source_url(str(row["url"]))
                url_key = url_match_key(url)
            except InvalidSourceURL as error:
                self._reject("sources", str(row["url"]), f"url: {error}")
                continue
            names = ("title", "publisher", "kind", "is_primary", "published_on", "archived_url")
            values: dict[str, Any] = {name: row[name] for name in names if name in row}
            source = self.upsert(
                Source,
                table="sources",
                key=url,
                existing=self.sources.get(url_key),
                lookup={"url": url},
                values=values,
            )
            if source:
                self.sources[url_key] = source

    def source_for(self, table: str, key: str, url: Any) -> Source | None:
        try:
            source = self.sources.get(url_match_key(str(url)))
        except InvalidSourceURL as error:
            self._reject(table, key, f"source: {error}")
            return None
        if source is None:
            self._reject(table, key, f"source {url!r} is not in sources")
        return source

    def import_measures(self, rows: list[dict[str, Any]]) -> None:
        existing = {m.slug: m for m in Measure.objects.prefetch_related("categories", "parties")}
        measures: dict[str, Measure] = {}
        for row in rows:
            self.progress(1)
            slug = str(row.get("slug") or "")
            if not self._require(row, "measures", slug or "?", "slug", "title", "form", "scope"):
                continue
            measure = self.upsert(
                Measure,
                table="measures",
                key=slug,
                existing=existing.get(slug),
                lookup={"slug": slug},
                values={
                    name: row[name]
                    for name in ("title", "summary", "form", "scope", "venue", "parameters")
                    if name in row
                },
            )
            if measure is None:
                continue
            measures[slug] = measure
            self._set_categories(measure, slug, row.get("categories"))
            if "parties" in row:
                self._set_parties(measure, slug, row["parties"])
            self.import_citations(
                self._rows(row.get("citations"), "citations", slug), slug, measure=measure
            )
            self.import_events(measure, self._rows(row.get("events"), "events", slug))
            self.import_positions(measure, self._rows(row.get("positions"), "positions", slug))
        self._set_parents(rows, {**existing, **measures})

    def _set_categories(self, measure: Measure, slug: str, codes: Any) -> None:
        if not isinstance(codes, list) or not codes:
            self._reject("measures", slug, "categories: give a list of at least one category")
            return
        unknown = [code for code in codes if code not in self.categories]
        if unknown:
            known = ", ".join(sorted(self.categories))
            self._reject("measures", slug, f"categories: unknown {unknown} (known: {known})")
            return
        current = {c.code for c in measure.categories.all()}
        if current == set(codes) or (current and not self.update_existing):
            return
        measure.categories.set([self.categories[code] for code in codes])
        self._mark_updated("measures", slug)

    def _set_parties(self, measure: Measure, slug: str, codes: Any) -> None:
        if not isinstance(codes, list):
            self._reject("measures", slug, "parties: give a list of actor codes")
            return
        wanted = {_code(code) for code in codes}
        unknown = sorted(code for code in wanted if code not in self.actors)
        if unknown:
            self._reject("measures", slug, f"parties: {unknown} are not actors")
            return
        current = {a.code for a in measure.parties.all()}
        if current == wanted or (current and not self.update_existing):
            return
        measure.parties.set([self.actors[code] for code in wanted])
        self._mark_updated("measures", slug)

    def _set_parents(self, rows: list[dict[str, Any]], measures: dict[str, Measure]) -> None:
        for row in rows:
            measure = measures.get(str(row.get("slug") or ""))
            if measure is None or "parent" not in row:
                continue
            parent_slug = row["parent"]
            parent = measures.get(parent_slug) if parent_slug else None
            if parent_slug and parent is None:
                self._reject("measures", measure.slug, f"parent {parent_slug!r} not found")
                continue
            if measure.parent_id == (parent.pk if parent else None):
                continue
            if measure.parent_id is not None and not self.update_existing:
                continue
            measure.parent = parent
            try:
                measure.full_clean(exclude=_not_imported(Measure))
            except ValidationError as error:
                self._reject("measures", measure.slug, _messages(error))
                continue
            measure.save(update_fields=["parent", "updated_at"])
            self._mark_updated("measures", measure.slug)

    def import_events(self, measure: Measure, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            actor_code = _code(row.get("actor")) or None
            key = f"{measure.slug}/{row.get('kind')}/{row.get('date')}/{actor_code or '-'}"
            if not self._require(row, "events", key, "kind", "date"):
                continue
            date = self._date(row, "events", key)
            if date is None:
                continue
            actor = self.actors.get(actor_code) if actor_code else None
            if actor_code and actor is None:
                self._reject("events", key, f"actor {actor_code!r} is not an actor")
                continue
            match = (measure.pk, str(row["kind"]), date, actor_code)
            event = self.upsert(
                Event,
                table="events",
                key=key,
                existing=self.events.get(match),
                lookup={"measure": measure, "actor": actor},
                values={
                    "kind": row["kind"],
                    "date": date,
                    **{
                        name: row[name]
                        for name in ("date_precision", "scope_note", "certainty", "description")
                        if name in row
                    },
                },
            )
            if event:
                self.events[match] = event
                self.import_citations(
                    self._rows(row.get("citations"), "citations", key), key, event=event
                )

    def import_positions(self, measure: Measure, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            code = _code(row.get("actor"))
            key = f"{measure.slug}/{code}/{row.get('date')}"
            if not self._require(row, "positions", key, "actor", "stance", "date"):
                continue
            date = self._date(row, "positions", key)
            if date is None:
                continue
            actor = self.actors.get(code)
            if actor is None:
                self._reject("positions", key, f"actor {code!r} is not an actor")
                continue
            match = (measure.pk, code, date)
            position = self.upsert(
                Position,
                table="positions",
                key=key,
                existing=self.positions.get(match),
                lookup={"measure": measure, "actor": actor},
                values={
                    "stance": row["stance"],
                    "date": date,
                    **{
                        name: row[name]
                        for name in ("date_precision", "quote", "certainty")
                        if name in row
                    },
                },
            )
            if position:
                self.positions[match] = position
                self.import_citations(
                    self._rows(row.get("citations"), "citations", key), key, position=position
                )

    def import_citations(self, rows: list[dict[str, Any]], owner_key: str, **target: Any) -> None:
        ((target_name, target_obj),) = target.items()
        for row in rows:
            key = f"{owner_key} <- {row.get('source')}"
            if not self._require(row, "citations", key, "source"):
                continue
            source = self.source_for("citations", key, row["source"])
            if source is None:
                continue
            locator = str(row.get("locator") or "")
            match = (target_name, target_obj.pk, source.pk, locator)
            citation = self.upsert(
                Citation,
                table="citations",
                key=key,
                existing=self.citations.get(match),
                lookup={"source": source, "locator": locator, **target},
                values={"quote": row.get("quote") or ""},
            )
            if citation:
                self.citations[match] = citation


def _citation_target(citation: Citation) -> tuple[str, int]:
    for name in ("measure", "event", "position"):
        target_id = getattr(citation, f"{name}_id")
        if target_id is not None:
            return name, target_id
    raise ValueError(f"citation {citation.pk} cites nothing")  # the database forbids this


def document_rows(data: Any) -> int:
    """How many top-level rows a document has: the total of an import's progress bar."""
    if not isinstance(data, dict):
        return 0
    return sum(
        len(data[table])
        for table in ("actors", "sources", "measures")
        if isinstance(data.get(table), list)
    )


def dataset_import(
    *,
    data: Any,
    update_existing: bool = True,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a dataset document. Never raises for bad rows: read ``report.rejected``."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        report = ImportReport()
        report.rows.append(
            RowResult("document", "format", "rejected", f'"format" must be "{FORMAT}"')
        )
        return report
    for table in ("actors", "sources", "measures"):
        if not isinstance(data.get(table, []), list):
            report = ImportReport()
            report.rows.append(RowResult("document", table, "rejected", "must be a list"))
            return report
    try:
        with transaction.atomic(), derived.deferred():
            # Read the existing rows inside the transaction, so what is matched is what is
            # written over. Each measure's status is derived once, when the block ends.
            importer = _Importer(update_existing=update_existing, progress=progress)
            importer.import_actors(importer._rows(data.get("actors"), "actors", ""))
            importer.import_sources(importer._rows(data.get("sources"), "sources", ""))
            importer.import_measures(importer._rows(data.get("measures"), "measures", ""))
            if importer.report.rejected:
                raise DatasetRejected(importer.report)
    except DatasetRejected as rejected:
        return rejected.report
    except IntegrityError as error:
        # Another writer created the same natural key between our read and our write.
        report = ImportReport()
        report.rows.append(
            RowResult("document", "conflict", "rejected", f"concurrent change, retry: {error}")
        )
        return report
    importer.report.applied = True
    return importer.report


# --- export -------------------------------------------------------------------------------------

# Measures per batch of the export: each batch is 8 queries (the measures, then their categories,
# parties, citations, events, positions and the citations of both) and a few megabytes of rows.
EXPORT_BATCH = 500
# orjson's layout, reproduced piece by piece so a streamed export is byte for byte the document
# ``orjson.dumps(dataset_export(), option=OPT_INDENT_2)`` writes.
_INDENT = orjson.OPT_INDENT_2


def _date(value: datetime.date | None) -> str | None:
    return value.isoformat() if value else None


def _export_actors() -> Iterator[dict[str, Any]]:
    actors = Actor.objects.order_by("code").values_list(
        "code", "name", "kind", "aliases", "successor__code"
    )
    for code, name, kind, aliases, successor in actors.iterator(chunk_size=CHUNK):
        yield {"code": code, "name": name, "kind": kind, "aliases": aliases, "successor": successor}


def _export_sources() -> Iterator[dict[str, Any]]:
    sources = Source.objects.order_by("url").values_list(
        "url", "title", "publisher", "kind", "is_primary", "published_on", "archived_url"
    )
    for url, title, publisher, kind, primary, published_on, archived in sources.iterator(
        chunk_size=CHUNK
    ):
        yield {
            "url": url,
            "title": title,
            "publisher": publisher,
            "kind": kind,
            "is_primary": primary,
            "published_on": _date(published_on),
            "archived_url": archived,
        }


def _by(key: int, rows: Iterable[tuple[Any, ...]]) -> dict[Any, list[tuple[Any, ...]]]:
    """Rows grouped by their column ``key``, each group in the rows' order."""
    groups: dict[Any, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    return groups


def _citations_of(citations: models.QuerySet[Citation], target: str) -> dict[int, list[Any]]:
    """Citations in the export's form by the id of what they cite, each list in id order."""
    rows = citations.order_by("id").values_list(target, "source__url", "quote", "locator")
    return {
        target_id: [
            {"source": url, "quote": quote, "locator": locator} for _, url, quote, locator in group
        ]
        for target_id, group in _by(0, rows).items()
    }


_MEASURE_COLUMNS = (
    "id", "slug", "title", "summary", "form", "scope", "venue", "parent__slug", "parameters",
    "status",
)  # fmt: skip


def _export_measure_batch(batch: list[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
    """Measures (rows of ``_MEASURE_COLUMNS``), in the export's form, in the batch's order.
    Seven queries: their categories, parties, citations, the events' citations, events, the
    positions' citations and positions; plain rows rather than model instances."""
    ids = [row[0] for row in batch]
    through = Measure.categories.through.objects.filter(measure_id__in=ids)
    categories = _by(0, through.values_list("measure_id", "category_id"))
    parties = _by(
        0, MeasureParty.objects.filter(measure_id__in=ids).values_list("measure_id", "actor__code")
    )
    cited = _citations_of(Citation.objects.filter(measure_id__in=ids), "measure_id")

    event_cited = _citations_of(Citation.objects.filter(event__measure_id__in=ids), "event_id")
    events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event_id, measure_id, kind, date, precision, actor, note, certainty, text in (
        Event.objects.filter(measure_id__in=ids)
        .order_by("date", "id")
        .values_list(
            "id", "measure_id", "kind", "date", "date_precision", "actor__code", "scope_note",
            "certainty", "description",
        )
    ):  # fmt: skip
        events[measure_id].append(
            {
                "kind": kind,
                "date": date.isoformat(),
                "date_precision": precision,
                "actor": actor,
                "scope_note": note,
                "certainty": certainty,
                "description": text,
                "citations": event_cited.get(event_id, []),
            }
        )

    position_cited = _citations_of(
        Citation.objects.filter(position__measure_id__in=ids), "position_id"
    )
    positions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for position_id, measure_id, actor, stance, date, precision, quote, certainty in (
        Position.objects.filter(measure_id__in=ids)
        .order_by("date", "id")
        .values_list(
            "id", "measure_id", "actor__code", "stance", "date", "date_precision", "quote",
            "certainty",
        )
    ):  # fmt: skip
        positions[measure_id].append(
            {
                "actor": actor,
                "stance": stance,
                "date": date.isoformat(),
                "date_precision": precision,
                "quote": quote,
                "certainty": certainty,
                "citations": position_cited.get(position_id, []),
            }
        )

    for pk, slug, title, summary, form, scope, venue, parent, parameters, status in batch:
        yield {
            "slug": slug,
            "title": title,
            "summary": summary,
            "categories": sorted(code for _, code in categories.get(pk, ())),
            "form": form,
            "scope": scope,
            "venue": venue,
            "parent": parent,
            "parties": sorted(code for _, code in parties.get(pk, ())),
            "parameters": parameters,
            "status": status,
            "citations": cited.get(pk, []),
            "events": events.get(pk, []),
            "positions": positions.get(pk, []),
        }


def _export_measures(batch_size: int) -> Iterator[dict[str, Any]]:
    """Every measure by slug, read by keyset batches (``slug > last``): each batch one index
    range scan however deep, then its rows asked for by its own ids."""
    measures = Measure.objects.order_by("slug").values_list(*_MEASURE_COLUMNS)
    last: str | None = None
    while True:
        batch = list((measures if last is None else measures.filter(slug__gt=last))[:batch_size])
        if batch:
            yield from _export_measure_batch(batch)
        if len(batch) < batch_size:
            return
        last = batch[-1][1]


def dataset_export(*, batch_size: int = EXPORT_BATCH) -> dict[str, Any]:
    """The whole dataset in the import format, in a fixed order (so exports can be diffed), as
    one object in memory: for small datasets and tests; the API streams ``dataset_export_json``.
    """
    return {
        "format": FORMAT,
        "actors": list(_export_actors()),
        "sources": list(_export_sources()),
        "measures": list(_export_measures(batch_size)),
    }


def _json_list(items: Iterable[Any], *, depth: int) -> Iterator[bytes]:
    """A list ``depth`` levels deep in an OPT_INDENT_2 document, one item at a time."""
    inner = b"\n" + b"  " * (depth + 1)
    empty = True
    for item in items:
        yield (b"[" if empty else b",") + inner
        yield orjson.dumps(item, option=_INDENT).replace(b"\n", inner)
        empty = False
    yield b"[]" if empty else b"\n" + b"  " * depth + b"]"


def dataset_export_json(*, batch_size: int = EXPORT_BATCH) -> Iterator[bytes]:
    """The export document as bytes, produced piece by piece: the same bytes as
    ``orjson.dumps(dataset_export(), option=OPT_INDENT_2)``, holding one batch of measures at a
    time. Queries: the actors, the sources, then 8 per batch of ``batch_size`` measures (one
    more when the measures fill the last batch exactly). Run it inside one transaction
    (``proposals.api.streaming``) for a consistent document.
    """
    yield b'{\n  "format": ' + orjson.dumps(FORMAT)
    for key, items in (
        ("actors", _export_actors()),
        ("sources", _export_sources()),
        ("measures", _export_measures(batch_size)),
    ):
        yield b',\n  "' + key.encode() + b'": '
        yield from _json_list(items, depth=1)
    yield b"\n}"


# --- one table at a time, flat ----------------------------------------------------------------

# Every table carries its database id (so tables can be joined) and the natural keys of what
# it points at (so a reader needs no other table to understand a row). Lists and free-form
# objects (aliases, parameters) are JSON text; a measure's categories are joined with ";".
_CITED_MEASURE = Coalesce("measure__slug", "event__measure__slug", "position__measure__slug")
_CITES = Case(
    When(measure__isnull=False, then=Value("measure")),
    When(event__isnull=False, then=Value("event")),
    default=Value("position"),
)
CSV_TABLES: dict[str, tuple[type[models.Model], list[str], list[tuple[str, Any]]]] = {
    # table: (model, ordering, [(column, field path or expression)])
    "measures": (
        Measure,
        ["slug"],
        [
            ("id", "id"),
            ("slug", "slug"),
            ("title", "title"),
            ("summary", "summary"),
            ("categories", None),  # filled from one query on the categories table
            ("form", "form"),
            ("scope", "scope"),
            ("venue", "venue"),
            ("parent", "parent__slug"),
            ("parties", None),  # filled from one query on the parties table
            ("parameters", "parameters"),
            ("status", "status"),
        ],
    ),
    "actors": (
        Actor,
        ["code"],
        [
            ("id", "id"),
            ("code", "code"),
            ("name", "name"),
            ("kind", "kind"),
            ("aliases", "aliases"),
            ("successor", "successor__code"),
        ],
    ),
    "events": (
        Event,
        ["measure__slug", "date", "id"],
        [
            ("id", "id"),
            ("measure", "measure__slug"),
            ("kind", "kind"),
            ("date", "date"),
            ("date_precision", "date_precision"),
            ("actor", "actor__code"),
            ("scope_note", "scope_note"),
            ("certainty", "certainty"),
            ("description", "description"),
        ],
    ),
    "positions": (
        Position,
        ["measure__slug", "date", "id"],
        [
            ("id", "id"),
            ("measure", "measure__slug"),
            ("actor", "actor__code"),
            ("stance", "stance"),
            ("date", "date"),
            ("date_precision", "date_precision"),
            ("quote", "quote"),
            ("certainty", "certainty"),
        ],
    ),
    "sources": (
        Source,
        ["url"],
        [
            ("id", "id"),
            ("url", "url"),
            ("title", "title"),
            ("publisher", "publisher"),
            ("kind", "kind"),
            ("is_primary", "is_primary"),
            ("published_on", "published_on"),
            ("archived_url", "archived_url"),
            ("health", "health"),
            ("last_checked_at", "last_checked_at"),
        ],
    ),
    "citations": (
        Citation,
        ["id"],
        [
            ("id", "id"),
            ("source", "source__url"),
            ("cites", _CITES),
            ("measure", _CITED_MEASURE),  # the measure cited, or the one the event/position is on
            ("event", "event_id"),
            ("position", "position_id"),
            ("locator", "locator"),
            ("quote", "quote"),
        ],
    ),
}
CHUNK = 2000


# A spreadsheet runs a cell starting with one of these as a formula; quotes and titles come from
# the web, so such cells get a leading apostrophe (as OWASP advises). The JSON export is exact.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, datetime.date):  # datetimes too
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def dataset_csv_rows(table: str, *, batch_size: int = CHUNK) -> Iterator[list[Any]]:
    """The header, then one list of cells per row of ``table``, read ``batch_size`` at a time.

    One query per table however many rows (read through a cursor, a batch at a time), except
    measures: three per batch of ``batch_size`` (the measures by slug, then their categories and
    their parties), one more when the measures fill the last batch exactly. Raises ``KeyError``
    for a table not in ``CSV_TABLES``.
    """
    model, ordering, columns = CSV_TABLES[table]
    yield [name for name, _ in columns]
    selected = [path for _, path in columns if path is not None]
    rows = model._default_manager.order_by(*ordering).values_list(*selected)
    batches: Iterator[tuple[tuple[Any, ...], dict[str, str]]]
    if model is Measure:
        batches = _measure_row_batches(rows, batch_size)
    else:
        batches = ((values, {}) for values in rows.iterator(chunk_size=batch_size))
    for values, joined in batches:
        cells = iter(values)
        yield [
            joined.get(name, "") if path is None else _cell(next(cells)) for name, path in columns
        ]


def _measure_row_batches(
    rows: models.QuerySet[Any, tuple[Any, ...]], batch_size: int
) -> Iterator[tuple[tuple[Any, ...], dict[str, str]]]:
    """Each measure row (slug order, id first) with its categories and parties, each joined
    with ";", read by keyset batches so the lists asked for are the batch's own."""
    last: str | None = None
    while True:
        batch = list((rows if last is None else rows.filter(slug__gt=last))[:batch_size])
        ids = [values[0] for values in batch]
        joined: dict[int, dict[str, str]] = {pk: {} for pk in ids}
        if ids:
            lists = {
                "categories": Measure.categories.through.objects.filter(measure_id__in=ids)
                .order_by("measure_id", "category_id")
                .values_list("measure_id", "category_id"),
                "parties": MeasureParty.objects.filter(measure_id__in=ids)
                .order_by("measure_id", "actor__code")
                .values_list("measure_id", "actor__code"),
            }
            for column, pairs in lists.items():
                for measure_id, code in pairs:
                    cells = joined[measure_id]
                    cells[column] = f"{cells[column]};{code}" if column in cells else code
        yield from ((values, joined[values[0]]) for values in batch)
        if len(batch) < batch_size:
            return
        last = batch[-1][1]  # the slug: ``CSV_TABLES`` lists id, then slug
