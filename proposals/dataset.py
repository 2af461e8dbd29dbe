"""The whole dataset as one document: export it, and import it back.

The format (``"format": "arms-control-tracker/1"``) is what ``GET /api/v1/export/`` serves and
what the demo data ships in: top-level ``actors``, ``sources`` and ``measures``, each measure
carrying its ``citations``, ``events`` and ``positions``, each of those carrying ``citations``.
Rows are matched on natural keys — actor ``code``, source ``url`` (normalized), measure ``slug``;
an event on (measure, kind, date, actor), a position on (measure, actor, date), a citation on
(source, what it cites, locator) — so importing the same document twice changes nothing.

An import is all-or-nothing: if any row is rejected, nothing is written, and the report says
which rows and why. With ``update_existing=False`` rows that already exist are left exactly as
they are (the demo loader uses this so a restart never undoes a curator's edit).
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction

from proposals.models import Actor, Category, Citation, Event, Measure, Position
from proposals.services import measure_recompute_status
from tracker.models import Source
from tracker.urlnorm import InvalidSourceURL, normalize_url

FORMAT = "arms-control-tracker/1"
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
        result: dict[str, dict[str, int]] = {}
        for (table, action), n in Counter((r.table, r.action) for r in self.rows).items():
            result.setdefault(table, {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0})
            result[table][action] = n
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


class _Importer:
    def __init__(
        self, *, update_existing: bool, progress: Callable[[int], None] | None = None
    ) -> None:
        self.update_existing = update_existing
        self.report = ImportReport()
        self.progress = progress or (lambda n: None)
        self.actors: dict[str, Actor] = {a.code: a for a in Actor.objects.all()}
        self.sources: dict[str, Source] = {s.url: s for s in Source.objects.all()}
        self.categories = {c.code: c for c in Category.objects.all()}
        self.touched_measures: list[Measure] = []

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
            obj.full_clean()
        except ValidationError as error:
            self._reject(table, key, _messages(error))
            return None
        obj.save()
        self.report.rows.append(RowResult(table, key, action))
        return obj

    @staticmethod
    def _to_python(model: type[models.Model], name: str, value: Any) -> Any:
        model_field = model._meta.get_field(name)
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

    def _require(self, row: dict[str, Any], table: str, *names: str) -> bool:
        missing = [name for name in names if not row.get(name)]
        if missing:
            self._reject(table, str(row.get(names[0], "?")), f"missing {', '.join(missing)}")
        return not missing

    # -- tables ------------------------------------------------------------------------------

    def import_actors(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if not self._require(row, "actors", "code", "name"):
                continue
            code = str(row["code"]).strip().upper()
            actor = self.upsert(
                Actor,
                table="actors",
                key=code,
                existing=self.actors.get(code),
                lookup={"code": code},
                values={
                    "name": row["name"],
                    "kind": row.get("kind", Actor.Kind.STATE),
                    "aliases": row.get("aliases") or [],
                },
            )
            if actor:
                self.actors[code] = actor
        # Successors point at other actors, so they are set once every actor exists.
        for row in rows:
            code = str(row.get("code", "")).strip().upper()
            actor = self.actors.get(code)
            if actor is None or "successor" not in row:
                continue
            successor_code = row["successor"]
            successor = self.actors.get(successor_code) if successor_code else None
            if successor_code and successor is None:
                self._reject("actors", code, f"successor {successor_code!r} is not an actor")
                continue
            if actor.successor_id != (successor.pk if successor else None):
                if actor.successor_id is not None and not self.update_existing:
                    continue
                actor.successor = successor
                actor.save(update_fields=["successor", "updated_at"])
                self._mark_updated("actors", code)

    def _mark_updated(self, table: str, key: str) -> None:
        for row in self.report.rows:
            if row.table == table and row.key == key and row.action == "unchanged":
                row.action = "updated"

    def import_sources(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if not self._require(row, "sources", "url"):
                continue
            try:
                url = normalize_url(row["url"])
            except InvalidSourceURL as error:
                self._reject("sources", str(row["url"]), f"url: {error}")
                continue
            values = {
                name: row[name]
                for name in (
                    "title",
                    "publisher",
                    "kind",
                    "is_primary",
                    "published_on",
                    "archived_url",
                )
                if name in row
            }
            source = self.upsert(
                Source,
                table="sources",
                key=url,
                existing=self.sources.get(url),
                lookup={"url": url},
                values=values,
            )
            if source:
                self.sources[url] = source

    def source_for(self, table: str, key: str, url: str) -> Source | None:
        try:
            source = self.sources.get(normalize_url(url))
        except InvalidSourceURL as error:
            self._reject(table, key, f"citation source: {error}")
            return None
        if source is None:
            self._reject(table, key, f"citation source {url!r} is not in sources")
        return source

    def import_measures(self, rows: list[dict[str, Any]]) -> None:
        existing = {m.slug: m for m in Measure.objects.prefetch_related("categories")}
        measures: dict[str, Measure] = {}
        for row in rows:
            self.progress(1)
            if not self._require(row, "measures", "slug", "title", "form", "scope"):
                continue
            slug = row["slug"]
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
            self.touched_measures.append(measure)
            self._set_categories(measure, slug, row.get("categories") or [])
            self.import_citations(row.get("citations") or [], "measures", slug, measure=measure)
            self.import_events(measure, row.get("events") or [])
            self.import_positions(measure, row.get("positions") or [])
        self._set_parents(rows, {**existing, **measures})

    def _set_categories(self, measure: Measure, slug: str, codes: list[str]) -> None:
        unknown = [code for code in codes if code not in self.categories]
        if unknown or not codes:
            reason = f"unknown categories {unknown}" if unknown else "no categories"
            self._reject("measures", slug, reason)
            return
        current = {c.code for c in measure.categories.all()}
        if current == set(codes) or (current and not self.update_existing):
            return
        measure.categories.set([self.categories[code] for code in codes])
        self._mark_updated("measures", slug)

    def _set_parents(self, rows: list[dict[str, Any]], measures: dict[str, Measure]) -> None:
        for row in rows:
            measure = measures.get(row.get("slug", ""))
            if measure is None or "parent" not in row:
                continue
            parent_slug = row["parent"]
            parent = measures.get(parent_slug) if parent_slug else None
            if parent_slug and parent is None:
                parent = Measure.objects.filter(slug=parent_slug).first()
                if parent is None:
                    self._reject("measures", measure.slug, f"parent {parent_slug!r} not found")
                    continue
            if measure.parent_id == (parent.pk if parent else None):
                continue
            if measure.parent_id is not None and not self.update_existing:
                continue
            measure.parent = parent
            try:
                measure.full_clean()
            except ValidationError as error:
                self._reject("measures", measure.slug, _messages(error))
                continue
            measure.save(update_fields=["parent", "updated_at"])
            self._mark_updated("measures", measure.slug)

    def import_events(self, measure: Measure, rows: list[dict[str, Any]]) -> None:
        existing = {
            (e.kind, e.date.isoformat(), e.actor.code if e.actor else None): e
            for e in measure.events.select_related("actor")
        }
        for row in rows:
            if not self._require(row, "events", "kind", "date"):
                continue
            actor_code = row.get("actor") or None
            key = f"{measure.slug}/{row['kind']}/{row['date']}/{actor_code or '-'}"
            actor = self.actors.get(actor_code) if actor_code else None
            if actor_code and actor is None:
                self._reject("events", key, f"actor {actor_code!r} is not an actor")
                continue
            event = self.upsert(
                Event,
                table="events",
                key=key,
                existing=existing.get((row["kind"], str(row["date"]), actor_code)),
                lookup={"measure": measure, "actor": actor},
                values={
                    "kind": row["kind"],
                    "date": row["date"],
                    **{
                        name: row[name]
                        for name in ("date_precision", "scope_note", "certainty", "description")
                        if name in row
                    },
                },
            )
            if event:
                self.import_citations(row.get("citations") or [], "events", key, event=event)

    def import_positions(self, measure: Measure, rows: list[dict[str, Any]]) -> None:
        existing = {
            (p.actor.code, p.date.isoformat()): p for p in measure.positions.select_related("actor")
        }
        for row in rows:
            if not self._require(row, "positions", "actor", "stance", "date"):
                continue
            key = f"{measure.slug}/{row['actor']}/{row['date']}"
            actor = self.actors.get(row["actor"])
            if actor is None:
                self._reject("positions", key, f"actor {row['actor']!r} is not an actor")
                continue
            position = self.upsert(
                Position,
                table="positions",
                key=key,
                existing=existing.get((actor.code, str(row["date"]))),
                lookup={"measure": measure, "actor": actor},
                values={
                    "stance": row["stance"],
                    "date": row["date"],
                    **{name: row[name] for name in ("date_precision", "quote") if name in row},
                },
            )
            if position:
                self.import_citations(
                    row.get("citations") or [], "positions", key, position=position
                )

    def import_citations(
        self, rows: list[dict[str, Any]], owner_table: str, owner_key: str, **target: Any
    ) -> None:
        (target_name, target_obj), = target.items()
        existing = {
            (c.source_id, c.locator): c
            for c in Citation.objects.filter(**{target_name: target_obj})
        }
        for row in rows:
            key = f"{owner_key} <- {row.get('source')}"
            if not self._require(row, "citations", "source"):
                continue
            source = self.source_for("citations", key, row["source"])
            if source is None:
                continue
            locator = row.get("locator", "")
            self.upsert(
                Citation,
                table="citations",
                key=key,
                existing=existing.get((source.pk, locator)),
                lookup={"source": source, "locator": locator, **target},
                values={"quote": row.get("quote", "")},
            )


def dataset_import(
    *,
    data: dict[str, Any],
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
    importer = _Importer(update_existing=update_existing, progress=progress)
    try:
        with transaction.atomic():
            importer.import_actors(data.get("actors", []))
            importer.import_sources(data.get("sources", []))
            importer.import_measures(data.get("measures", []))
            if importer.report.rejected:
                raise DatasetRejected(importer.report)
            for measure in importer.touched_measures:
                measure_recompute_status(measure=measure)
    except DatasetRejected as rejected:
        return rejected.report
    importer.report.applied = True
    return importer.report


# --- export -------------------------------------------------------------------------------------


def _date(value: datetime.date | None) -> str | None:
    return value.isoformat() if value else None


def _citations(citations: Iterable[Citation]) -> list[dict[str, Any]]:
    return [{"source": c.source.url, "quote": c.quote, "locator": c.locator} for c in citations]


def dataset_export() -> dict[str, Any]:
    """The whole dataset in the import format, in a fixed order (so exports can be diffed)."""
    cited = models.Prefetch("citations", queryset=Citation.objects.select_related("source"))
    measures = Measure.objects.select_related("parent").prefetch_related(
        "categories",
        cited,
        models.Prefetch(
            "events",
            queryset=Event.objects.select_related("actor").prefetch_related(cited),
        ),
        models.Prefetch(
            "positions",
            queryset=Position.objects.select_related("actor").prefetch_related(cited),
        ),
    )
    return {
        "format": FORMAT,
        "actors": [
            {
                "code": a.code,
                "name": a.name,
                "kind": a.kind,
                "aliases": a.aliases,
                "successor": a.successor.code if a.successor else None,
            }
            for a in Actor.objects.select_related("successor").order_by("code")
        ],
        "sources": [
            {
                "url": s.url,
                "title": s.title,
                "publisher": s.publisher,
                "kind": s.kind,
                "is_primary": s.is_primary,
                "published_on": _date(s.published_on),
                "archived_url": s.archived_url,
            }
            for s in Source.objects.order_by("url")
        ],
        "measures": [
            {
                "slug": m.slug,
                "title": m.title,
                "summary": m.summary,
                "categories": sorted(c.code for c in m.categories.all()),
                "form": m.form,
                "scope": m.scope,
                "venue": m.venue,
                "parent": m.parent.slug if m.parent else None,
                "parameters": m.parameters,
                "status": m.status,
                "citations": _citations(m.citations.all()),
                "events": [
                    {
                        "kind": e.kind,
                        "date": e.date.isoformat(),
                        "date_precision": e.date_precision,
                        "actor": e.actor.code if e.actor else None,
                        "scope_note": e.scope_note,
                        "certainty": e.certainty,
                        "description": e.description,
                        "citations": _citations(e.citations.all()),
                    }
                    for e in m.events.all()
                ],
                "positions": [
                    {
                        "actor": p.actor.code,
                        "stance": p.stance,
                        "date": p.date.isoformat(),
                        "date_precision": p.date_precision,
                        "quote": p.quote,
                        "citations": _citations(p.citations.all()),
                    }
                    for p in m.positions.all()
                ],
            }
            for m in measures.order_by("slug")
        ],
    }
