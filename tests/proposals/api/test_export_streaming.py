"""GET /api/v1/export/ at any size: streamed (JSON and every CSV table) from batches of rows, the
same bytes as the document written whole, queries growing with batches rather than rows, and a
gunicorn worker kept alive while the body makes progress."""

from __future__ import annotations

import datetime
import math
import os
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from gunicorn.config import Config
from gunicorn.workers.sync import SyncWorker
from rest_framework.test import APIClient

from common import heartbeat
from config import gunicorn as gunicorn_settings
from proposals.api.feeds import csv_lines
from proposals.api.streaming import chunks
from proposals.dataset import CSV_TABLES, dataset_csv_rows, dataset_export, dataset_export_json
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db
EXPORT = "/api/v1/export/"
D = datetime.date


def populate(measures: int) -> None:
    """Each measure with a party, a citation, an event and a position, each cited."""
    usa, rus = ActorFactory.create(code="USA"), ActorFactory.create(code="RUS")
    source = SourceFactory.create()
    for n in range(measures):
        measure = MeasureFactory.create(categories=["arms_limit", "hotline"])
        measure.parties.set([usa, rus])
        CitationFactory.create(source=source, measure=measure, locator=f"art. {n}")
        event = EventFactory.create(measure=measure, kind="signed", actor=usa, date=D(2001, 1, 1))
        CitationFactory.create(source=source, measure=None, event=event)
        position = PositionFactory.create(measure=measure, actor=rus, date=D(2002, 1, 1 + n))
        CitationFactory.create(source=source, measure=None, position=position, quote="=1+1")


def body(response: Any) -> bytes:
    assert response.status_code == 200
    assert response.streaming  # produced while sent, never held whole
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("measures", [0, 1, 5])
@pytest.mark.parametrize("batch_size", [1, 2, 500])
def test_the_streamed_document_is_the_document_written_at_once(
    measures: int, batch_size: int
) -> None:
    populate(measures)
    whole = orjson.dumps(dataset_export(), option=orjson.OPT_INDENT_2)

    streamed = b"".join(dataset_export_json(batch_size=batch_size))

    assert streamed == whole
    assert len(orjson.loads(streamed)["measures"]) == measures


def test_the_api_streams_the_json_document(anonymous: APIClient) -> None:
    populate(3)

    response = anonymous.get(EXPORT)

    assert response["Content-Type"] == "application/json"
    assert body(response) == orjson.dumps(dataset_export(), option=orjson.OPT_INDENT_2)


@pytest.mark.parametrize("table", list(CSV_TABLES))
def test_the_api_streams_each_csv_table(anonymous: APIClient, table: str) -> None:
    populate(3)

    response = anonymous.get(EXPORT, {"format": "csv", "table": table})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert body(response).decode() == "".join(csv_lines(dataset_csv_rows(table)))


@pytest.mark.parametrize("table", list(CSV_TABLES))
@pytest.mark.parametrize("batch_size", [1, 2])
def test_csv_batches_do_not_change_a_table(table: str, batch_size: int) -> None:
    populate(5)
    whole = list(dataset_csv_rows(table, batch_size=10_000))

    assert list(dataset_csv_rows(table, batch_size=batch_size)) == whole
    assert len(whole) > 1  # a header and rows


@pytest.mark.parametrize("measures", [3, 7])
def test_the_json_export_costs_queries_per_batch_not_per_row(
    django_assert_num_queries: Any, measures: int
) -> None:
    populate(measures)
    # Actors and sources (each one query, read through a cursor), then per batch of two: the
    # measures, their categories, parties, citations, the events' citations, the events, the
    # positions' citations and the positions. (A last batch filled exactly is followed by one
    # query that finds no more measures; 3 and 7 never fill it.)
    with django_assert_num_queries(2 + 8 * math.ceil(measures / 2)):
        document = b"".join(dataset_export_json(batch_size=2))
    assert len(orjson.loads(document)["measures"]) == measures


@pytest.mark.parametrize("measures", [3, 7])
@pytest.mark.parametrize(
    ("table", "per_batch"),
    # Measures: the rows, then their categories and their parties. Every other table is one
    # query read through a cursor, whatever its size.
    [("measures", 3), ("positions", 0), ("events", 0), ("citations", 0)],
)
def test_a_csv_table_costs_queries_per_batch_not_per_row(
    django_assert_num_queries: Any, measures: int, table: str, per_batch: int
) -> None:
    populate(measures)
    expected = per_batch * math.ceil(measures / 2) if per_batch else 1
    with django_assert_num_queries(expected):
        rows = list(dataset_csv_rows(table, batch_size=2))
    assert len(rows) > measures  # every row came through


@pytest.fixture
def worker() -> Iterator[SyncWorker]:
    """A gunicorn sync worker as the master forks it, set up by the service's gunicorn hook."""
    worker = SyncWorker(1, os.getpid(), [], None, 30, Config(), None)
    gunicorn_settings.post_worker_init(worker)
    yield worker
    heartbeat.register(None)
    worker.tmp.close()


def test_a_streamed_export_keeps_the_gunicorn_worker_alive(worker: SyncWorker) -> None:
    populate(3)
    # The master kills a worker whose heartbeat file is older than its timeout: make it old.
    os.utime(worker.tmp.fileno(), (0, 0))
    assert worker.tmp.last_update() == 0

    sent = list(chunks(dataset_export_json(batch_size=1), size=100))

    assert len(sent) > 2
    assert worker.tmp.last_update() > 0  # signalled while sending
