"""GET /api/v1/export/ and POST /api/v1/import/, and the import_dataset command: the whole
dataset out and back in, idempotent, all-or-nothing, and a no-op when nothing differs."""

from __future__ import annotations

import csv
import datetime
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from proposals.api.bulk import IMPORT_PERMISSIONS
from proposals.dataset import FORMAT, TABLES
from proposals.models import Actor, Citation, Event, Measure, Position
from proposals.services import measures_recompute_statuses
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    OrganizationFactory,
    PositionFactory,
    SourceFactory,
)
from tracker.models import Source

pytestmark = pytest.mark.django_db
EXPORT, IMPORT = "/api/v1/export/", "/api/v1/import/"
D = datetime.date
MODELS = [Actor, Source, Measure, Event, Position, Citation]


@pytest.fixture
def importer(django_user_model: type[User]) -> APIClient:
    """Signed in with exactly the permissions an import needs: add and change each model."""
    user = django_user_model.objects.create_user("importer")
    for name in IMPORT_PERMISSIONS:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client = APIClient()
    client.force_authenticate(user)
    return client


def build_dataset() -> None:
    """Every kind of row and every field the format carries, statuses derived."""
    rus = ActorFactory.create(code="RUS", name="Russia", aliases=["Russian Federation"])
    usa = ActorFactory.create(code="USA", name="United States")
    sun = ActorFactory.create(code="SUN", name="USSR", successor=rus)
    OrganizationFactory.create(code="NATO", name="NATO")
    text = SourceFactory.create(
        url="https://treaties.example.org/inf",
        kind=Source.Kind.TREATY_TEXT,
        is_primary=True,
        published_on=D(1987, 12, 8),
        archived_url="https://archive.example.org/inf",
    )
    news = SourceFactory.create(url="https://news.example.org/inf-ends")
    inf = MeasureFactory.create(
        slug="inf-treaty",
        title="INF Treaty",
        categories=["arms_limit", "deployment_zone_limit"],
        form=Measure.Form.TREATY,
        venue="bilateral talks",
        parameters={"range_km": [500, 5500]},
    )
    inf.parties.set([usa, sun])
    protocol = MeasureFactory.create(slug="inf-protocol", categories=["transparency"])
    protocol.parent = inf
    protocol.save()
    CitationFactory.create(source=text, measure=inf, locator="art. I", quote="Each Party…")
    signed = EventFactory.create(measure=inf, kind="signed", date=D(1987, 12, 8))
    CitationFactory.create(source=text, measure=None, event=signed)
    ended = EventFactory.create(
        measure=inf, kind="withdrew", actor=usa, date=D(2019, 8, 2), certainty="confirmed"
    )
    CitationFactory.create(source=news, measure=None, event=ended, locator="para. 2")
    EventFactory.create(measure=inf, kind="terminated", date=D(2019, 8, 1), date_precision="month")
    stance = PositionFactory.create(
        measure=inf,
        actor=rus,
        stance="opposes",
        date=D(2019, 1, 1),
        date_precision="year",
        certainty="reported",
    )
    CitationFactory.create(source=news, measure=None, position=stance, quote="“We object.”")
    measures_recompute_statuses()


def snapshot() -> dict[str, Any]:
    """Every row's last change time, and how long every audit history is."""
    state: dict[str, Any] = {
        model.__name__: sorted(model._default_manager.values_list("pk", "updated_at"))
        for model in MODELS
    }
    for model in apps.get_models():
        if model.__name__.startswith("Historical"):
            state[model.__name__] = model._default_manager.count()
    return state


def export(client: APIClient) -> dict[str, Any]:
    response = client.get(EXPORT)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    return json.loads(response.getvalue())


def test_importing_an_export_changes_nothing_at_all(
    anonymous: APIClient, importer: APIClient
) -> None:
    build_dataset()
    before = snapshot()
    document = export(anonymous)

    response = importer.post(IMPORT, document, format="json")

    assert response.status_code == 200, response.json()
    report = response.json()
    assert report["applied"] is True
    assert report["rejected"] == []
    assert {table: counts["unchanged"] for table, counts in report["counts"].items()} == {
        "actors": 4,
        "sources": 2,
        "measures": 2,
        "events": 3,
        "positions": 1,
        "citations": 4,
    }
    assert all(c["created"] == c["updated"] == 0 for c in report["counts"].values())
    assert snapshot() == before  # no updated_at moved, no history row written
    assert export(anonymous) == document


def test_an_export_loads_into_an_empty_database_and_reads_back_the_same(
    anonymous: APIClient, importer: APIClient
) -> None:
    build_dataset()
    document = export(anonymous)
    for model in (Citation, Position, Event):
        model.objects.all().delete()
    Measure.objects.filter(parent__isnull=False).delete()
    Measure.objects.all().delete()
    Source.objects.all().delete()
    Actor.objects.filter(successor__isnull=False).delete()
    Actor.objects.all().delete()

    first = importer.post(IMPORT, document, format="json").json()
    after_first = snapshot()
    second = importer.post(IMPORT, document, format="json").json()

    assert first["counts"]["measures"]["created"] == 2
    assert first["counts"]["citations"]["created"] == 4
    assert export(anonymous) == document
    assert all(c["created"] == c["updated"] == 0 for c in second["counts"].values())
    assert snapshot() == after_first  # the second import wrote nothing


BAD_ROWS: list[tuple[str, Any, str, str]] = [
    # (where, bad value, table rejected, words of the reason)
    ("position stance", {"stance": "loves"}, "positions", "stance"),
    ("position actor", {"actor": "XYZ"}, "positions", "'XYZ' is not an actor"),
    ("position date", {"date": "2019-02-30"}, "positions", "date"),
    ("position date precision", {"date": "2019-01-15"}, "positions", "1 January"),
    ("event kind", {"kind": "exploded"}, "events", "kind"),
    ("citation source", {"source": "https://unknown.example.org/"}, "citations", "not in sources"),
    ("measure category", {"categories": ["nuclear"]}, "measures", "unknown ['nuclear']"),
    ("measure form", {"form": "handshake"}, "measures", "form"),
    ("actor code", {"code": "ZZZ", "kind": "state"}, "actors", "ISO 3166-1"),
    ("source url", {"url": "ftp://example.org/x"}, "sources", "http"),
]


def spoil(document: dict[str, Any], where: str, bad: dict[str, Any]) -> dict[str, Any]:
    spoiled = json.loads(json.dumps(document))
    measure = spoiled["measures"][-1]  # inf-treaty, which has everything
    target = {
        "position": measure["positions"][0],
        "event": measure["events"][0],
        "citation": measure["events"][0]["citations"][0],
        "measure": measure,
        "actor": spoiled["actors"][0],
        "source": spoiled["sources"][0],
    }[where.split()[0]]
    target.update(bad)
    return spoiled


@pytest.mark.parametrize(
    ("where", "bad", "table", "reason"), BAD_ROWS, ids=[r[0] for r in BAD_ROWS]
)
def test_a_bad_row_is_rejected_with_its_reason_and_nothing_is_written(
    anonymous: APIClient,
    importer: APIClient,
    where: str,
    bad: dict[str, Any],
    table: str,
    reason: str,
) -> None:
    build_dataset()
    document = export(anonymous)
    document["actors"].append({"code": "JPN", "name": "Japan"})  # a good new row …
    document["measures"][0]["title"] = "A changed title"  # … and a good change
    before = snapshot()

    response = importer.post(IMPORT, spoil(document, where, bad), format="json")

    assert response.status_code == 400
    report = response.json()
    assert report["applied"] is False
    assert [r["table"] for r in report["rejected"]] == [table]
    assert reason in report["rejected"][0]["reason"]
    assert report["counts"][table]["rejected"] == 1
    assert snapshot() == before  # neither the good rows nor the bad one
    assert not Actor.objects.filter(code="JPN").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"format": "something-else/1"},
        {"actors": []},
        {"format": FORMAT, "measures": {"not": "a list"}},
        ["not", "an", "object"],
    ],
)
def test_a_document_of_the_wrong_shape_is_refused(importer: APIClient, body: Any) -> None:
    response = importer.post(IMPORT, body, format="json")

    assert response.status_code == 400
    assert response.json()["applied"] is False
    assert response.json()["rejected"][0]["table"] == "document"


def test_a_body_that_is_not_json_is_a_400(importer: APIClient) -> None:
    response = importer.post(IMPORT, "{not json", content_type="application/json")

    assert response.status_code == 400


def test_keep_existing_adds_rows_but_leaves_existing_ones(importer: APIClient) -> None:
    ActorFactory.create(code="USA", name="United States")
    document = {
        "format": FORMAT,
        "actors": [{"code": "USA", "name": "USA!"}, {"code": "JPN", "name": "Japan"}],
    }

    report = importer.post(f"{IMPORT}?keep_existing=true", document, format="json").json()

    assert report["counts"]["actors"] == {"created": 1, "updated": 0, "unchanged": 1, "rejected": 0}
    assert Actor.objects.get(code="USA").name == "United States"


@pytest.mark.parametrize(
    ("client_name", "status"),
    [("anonymous", (401, 403)), ("reader", (403,)), ("writer_without_change", (403,))],
)
def test_only_users_who_may_add_and_change_everything_may_import(
    request: pytest.FixtureRequest,
    django_user_model: type[User],
    client_name: str,
    status: tuple[int, ...],
) -> None:
    if client_name == "writer_without_change":
        user = django_user_model.objects.create_user("adder")
        user.user_permissions.set(Permission.objects.filter(codename__startswith="add_"))
        client = APIClient()
        client.force_authenticate(user)
    else:
        client = request.getfixturevalue(client_name)

    response = client.post(IMPORT, {"format": FORMAT, "actors": []}, format="json")

    assert response.status_code in status


def test_the_curators_group_may_import(curator: APIClient) -> None:
    response = curator.post(IMPORT, {"format": FORMAT, "actors": []}, format="json")

    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_export_outside_any_transaction_reads_one_snapshot(anonymous: APIClient) -> None:
    """As in production: the export opens its own read-only snapshot (repeatable read on
    PostgreSQL) for its nine queries."""
    ActorFactory.create(code="USA", name="United States")
    SourceFactory.create(url="https://example.org/a")

    document = export(anonymous)

    assert [a["code"] for a in document["actors"]] == ["USA"]
    assert [s["url"] for s in document["sources"]] == ["https://example.org/a"]


def test_an_import_is_recorded_under_the_curators_name(
    curator: APIClient, curator_user: User
) -> None:
    body = {"format": FORMAT, "actors": [{"code": "JPN", "name": "Japan"}]}

    assert curator.post(IMPORT, body, format="json").status_code == 200

    assert Actor.history.get(code="JPN").history_user == curator_user


# --- CSV ----------------------------------------------------------------------------------------


def csv_table(client: APIClient, table: str) -> list[dict[str, str]]:
    response = client.get(EXPORT, {"format": "csv", "table": table})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="{table}-' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_each_table_exports_as_csv(anonymous: APIClient) -> None:
    build_dataset()
    inf = Measure.objects.get(slug="inf-treaty")
    withdrew = Event.objects.get(kind="withdrew")

    tables = {table: csv_table(anonymous, table) for table in TABLES}

    assert [row["slug"] for row in tables["measures"]] == ["inf-protocol", "inf-treaty"]
    assert tables["measures"][1] | {"id": "", "summary": ""} == {
        "id": "",
        "slug": "inf-treaty",
        "title": "INF Treaty",
        "summary": "",
        "categories": "arms_limit;deployment_zone_limit",
        "form": "treaty",
        "scope": "bilateral",
        "venue": "bilateral talks",
        "parent": "",
        "parties": "SUN;USA",
        "parameters": '{"range_km": [500, 5500]}',
        "status": "terminated",
    }
    assert tables["measures"][0]["parent"] == "inf-treaty"
    assert {row["code"]: row["successor"] for row in tables["actors"]} == {
        "NATO": "",
        "RUS": "",
        "SUN": "RUS",
        "USA": "",
    }
    assert next(r for r in tables["actors"] if r["code"] == "RUS")["aliases"] == (
        '["Russian Federation"]'
    )
    assert [(r["kind"], r["actor"], r["date"]) for r in tables["events"]] == [
        ("signed", "", "1987-12-08"),
        ("terminated", "", "2019-08-01"),
        ("withdrew", "USA", "2019-08-02"),
    ]
    assert tables["positions"][0]["measure"] == "inf-treaty"
    assert tables["positions"][0]["certainty"] == "reported"
    assert tables["sources"][1]["is_primary"] == "true"
    assert tables["sources"][1]["published_on"] == "1987-12-08"
    cites = {(r["cites"], r["measure"], r["event"], r["locator"]) for r in tables["citations"]}
    assert cites == {
        ("measure", "inf-treaty", "", "art. I"),
        ("event", "inf-treaty", str(Event.objects.get(kind="signed").pk), ""),
        ("event", "inf-treaty", str(withdrew.pk), "para. 2"),
        ("position", "inf-treaty", "", ""),
    }
    assert str(inf.pk) in {row["id"] for row in tables["measures"]}


def test_a_csv_cell_a_spreadsheet_would_run_is_defused(anonymous: APIClient) -> None:
    MeasureFactory.create(slug="m", title='=HYPERLINK("https://evil.example")')

    rows = csv_table(anonymous, "measures")

    assert rows[0]["title"] == '\'=HYPERLINK("https://evil.example")'


@pytest.mark.parametrize(
    ("params", "name"),
    [({"format": "csv"}, "table"), ({"format": "csv", "table": "users"}, "table")],
)
def test_a_csv_export_needs_a_known_table(
    anonymous: APIClient, params: dict[str, str], name: str
) -> None:
    response = anonymous.get(EXPORT, params)

    assert response.status_code == 400
    assert response.content.decode().splitlines()[1].startswith(f"{name},")


def populate(size: int) -> None:
    source = SourceFactory.create()
    actors = [ActorFactory.create() for _ in range(size)]
    for n in range(size):
        measure = MeasureFactory.create(categories=["hotline", "other"])
        CitationFactory.create(source=source, measure=measure)
        for k, actor in enumerate(actors):
            event = EventFactory.create(measure=measure, actor=actor, date=D(2000, 1 + k, 1 + n))
            CitationFactory.create(source=source, measure=None, event=event)
            position = PositionFactory.create(measure=measure, actor=actor)
            CitationFactory.create(source=source, measure=None, position=position)


@pytest.mark.parametrize("size", [1, 5])
@pytest.mark.parametrize(
    ("params", "queries"),
    [
        # The data version (for the ETag); actors (with successors), sources, measures (with
        # parents), then one query each for their categories, their parties, their own
        # citations (with sources), their events (with actors), the events' citations, their
        # positions (with actors), the positions' citations.
        ({}, 11),
        # The data version and one table each, the measures after one query for every
        # measure's categories and one for every measure's parties.
        *(({"format": "csv", "table": table}, 2) for table in TABLES if table != "measures"),
        ({"format": "csv", "table": "measures"}, 4),
    ],
)
def test_an_export_takes_the_same_queries_at_any_size(
    anonymous: APIClient,
    django_assert_num_queries: Any,
    size: int,
    params: dict[str, str],
    queries: int,
) -> None:
    populate(size)
    with django_assert_num_queries(queries):
        response = anonymous.get(EXPORT, params)
        if response.streaming:
            b"".join(response.streaming_content)
    assert response.status_code == 200


# --- the management command ---------------------------------------------------------------------


def test_the_command_imports_a_file_and_prints_the_report(
    anonymous: APIClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_dataset()
    path = tmp_path / "dataset.json"
    document = export(anonymous)
    document["actors"].append({"code": "JPN", "name": "Japan"})
    path.write_text(json.dumps(document), encoding="utf-8")

    call_command("import_dataset", str(path))

    out = capsys.readouterr().out
    assert "1 created" in out
    assert "Imported." in out
    assert Actor.objects.filter(code="JPN").exists()


def test_the_command_prints_the_api_report_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps({"format": FORMAT, "actors": [{"code": "JPN", "name": "Japan"}]}))

    call_command("import_dataset", str(path), "--json")

    report = json.loads(capsys.readouterr().out)
    assert report["applied"] is True
    assert report["counts"]["actors"]["created"] == 1


def test_the_command_keeps_existing_rows_when_asked(tmp_path: Path) -> None:
    ActorFactory.create(code="USA", name="United States")
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps({"format": FORMAT, "actors": [{"code": "USA", "name": "USA!"}]}))

    call_command("import_dataset", str(path), "--keep-existing", stdout=io.StringIO())

    assert Actor.objects.get(code="USA").name == "United States"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"format": "arms-control-tracker/1", "actors": [{"code": "ZZZ", "name": "?"}]}',
            "1 rows",
        ),
        ("{broken", "not JSON"),
        (None, "Cannot read"),
    ],
)
def test_the_command_fails_and_writes_nothing_on_a_bad_file(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "dataset.json"
    if content is not None:
        path.write_text(content)

    with pytest.raises(CommandError, match=message):
        call_command("import_dataset", str(path), stdout=io.StringIO())

    assert not Actor.objects.exists()
