"""The dataset importer's edges: malformed rows, key spellings, derived fields, keep-existing."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from proposals.dataset import FORMAT, dataset_import, document_rows
from proposals.models import Actor, Event, Measure, Position
from proposals.services import measure_recompute_status
from tests.factories import ActorFactory, EventFactory, MeasureFactory, PositionFactory

pytestmark = pytest.mark.django_db
D = datetime.date


def document(**tables: Any) -> dict[str, Any]:
    return {"format": FORMAT, **tables}


def measure_row(**values: Any) -> dict[str, Any]:
    return {
        "slug": "inf-treaty",
        "title": "INF Treaty",
        "form": "treaty",
        "scope": "bilateral",
        "categories": ["arms_limit"],
        **values,
    }


@pytest.mark.parametrize(
    ("data", "table", "key", "reason"),
    [
        (document(actors=["USA"]), "actors", "#0", "must be an object"),
        (document(actors=[{"code": "USA"}]), "actors", "USA", "missing name"),
        (
            document(actors=[{"code": "SUN", "name": "USSR", "successor": "XXX"}]),
            "actors",
            "SUN",
            "successor 'XXX' is not an actor",
        ),
        (document(measures=[measure_row(events="signed")]), "events", "inf-treaty", "list"),
        (document(measures=[measure_row(categories=[])]), "measures", "inf-treaty", "categories"),
        (document(measures=[measure_row(categories="hotline")]), "measures", "inf-treaty", "list"),
        (
            document(measures=[measure_row(parent="no-such-measure")]),
            "measures",
            "inf-treaty",
            "parent 'no-such-measure' not found",
        ),
        (
            document(measures=[measure_row(positions=[{"actor": "USA", "stance": "endorses"}])]),
            "positions",
            "inf-treaty/USA/None",
            "missing date",
        ),
        (
            document(measures=[measure_row(events=[{"kind": "signed", "date": "08/12/1987"}])]),
            "events",
            "inf-treaty/signed/08/12/1987/-",
            "date:",
        ),
        (
            document(measures=[measure_row(citations=[{"source": "mailto:someone@example.org"}])]),
            "citations",
            "inf-treaty <- mailto:someone@example.org",
            "Only http and https",
        ),
    ],
)
def test_a_malformed_row_is_rejected_with_where_and_why(
    data: dict[str, Any], table: str, key: str, reason: str
) -> None:
    report = dataset_import(data=data)

    assert report.applied is False
    assert [(r.table, r.key) for r in report.rejected] == [(table, key)]
    assert reason in report.rejected[0].reason
    assert not Measure.objects.exists()
    assert not Actor.objects.exists()


def test_keys_match_however_they_are_spelled() -> None:
    """Lower-case codes and unpadded dates name the rows that already exist."""
    usa = ActorFactory.create(code="USA")
    measure = MeasureFactory.create(slug="inf-treaty", title="INF Treaty", form="treaty")
    EventFactory.create(measure=measure, kind="signed", actor=usa, date=D(1987, 12, 8))
    PositionFactory.create(measure=measure, actor=usa, stance="endorses", date=D(2019, 2, 2))
    row = measure_row(
        categories=["hotline"],
        events=[{"kind": "signed", "date": "1987-12-8", "actor": "usa"}],
        positions=[{"actor": "usa", "stance": "endorses", "date": "2019-2-2"}],
    )

    report = dataset_import(data=document(measures=[row]))

    assert report.applied, report.as_dict()
    assert report.counts()["events"]["unchanged"] == 1
    assert report.counts()["positions"]["unchanged"] == 1
    assert Event.objects.count() == 1
    assert Position.objects.count() == 1


def test_an_in_force_measure_can_be_updated() -> None:
    """Its stored status is derived, so the importer neither sets nor validates it."""
    measure = MeasureFactory.create(slug="inf-treaty", categories=["arms_limit"], form="treaty")
    EventFactory.create(measure=measure, kind="entered_into_force", date=D(1988, 6, 1))
    measure_recompute_status(measure=measure)

    report = dataset_import(data=document(measures=[measure_row(title="Renamed", status="x")]))

    assert report.applied, report.as_dict()
    measure.refresh_from_db()
    assert (measure.title, measure.status) == ("Renamed", "in_force")


def test_keep_existing_leaves_categories_and_parents_alone() -> None:
    parent = MeasureFactory.create(slug="parent")
    child = MeasureFactory.create(slug="inf-treaty", categories=["hotline"], parent=parent)
    MeasureFactory.create(slug="other")

    report = dataset_import(
        data=document(measures=[measure_row(categories=["arms_limit"], parent="other")]),
        update_existing=False,
    )

    assert report.applied, report.as_dict()
    child.refresh_from_db()
    assert child.parent == parent
    assert list(child.categories.values_list("code", flat=True)) == ["hotline"]
    assert report.counts()["measures"]["unchanged"] == 1


def test_an_import_never_deletes() -> None:
    ActorFactory.create(code="RUS")

    dataset_import(data=document(actors=[{"code": "USA", "name": "United States"}]))

    assert set(Actor.objects.values_list("code", flat=True)) == {"RUS", "USA"}


def test_progress_counts_every_top_level_row() -> None:
    data = document(
        actors=[{"code": "USA", "name": "United States"}],
        sources=[{"url": "https://example.org/a"}, {"url": "https://example.org/b"}],
        measures=[measure_row()],
    )
    steps: list[int] = []

    report = dataset_import(data=data, progress=steps.append)

    assert report.applied, report.as_dict()
    assert sum(steps) == document_rows(data) == 4
