"""GET/POST/PUT/PATCH/DELETE /api/v1/measures/."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from proposals.models import Event, Measure, Position
from proposals.services import measure_recompute_status
from tests.factories import (
    ActorFactory,
    CitationFactory,
    EventFactory,
    MeasureFactory,
    PositionFactory,
)

pytestmark = pytest.mark.django_db
D = datetime.date
URL = "/api/v1/measures/"


def make_measures(n: int) -> None:
    usa, rus = ActorFactory(code="USA"), ActorFactory(code="RUS")
    for i in range(n):
        measure = MeasureFactory(categories=["hotline", "transparency"])
        EventFactory(measure=measure, kind="signed", date=D(2000, 1, 1))
        EventFactory(measure=measure, kind="ratified", date=D(2000, 2, 1), actor=usa)
        EventFactory(measure=measure, kind="entered_into_force", date=D(2000, 3, 1))
        PositionFactory(measure=measure, actor=usa, stance="endorses", date=D(2001, 1, i % 28 + 1))
        PositionFactory(measure=measure, actor=rus, stance="opposes")
        CitationFactory(measure=measure)


@pytest.mark.parametrize("n", [3, 12])
def test_the_list_runs_the_same_queries_at_any_size(
    anonymous: APIClient, django_assert_num_queries: Any, n: int
) -> None:
    make_measures(n)
    # 1 data version (ETag), 2 COUNT, 3 the page of measures (parent slug joined),
    # 4 their categories, 5 their events with actor codes, 6 their positions with actor codes,
    # 7 their named parties, 8 the actors' successor map (participations).
    with django_assert_num_queries(8):
        response = anonymous.get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == n
    assert all(len(item["events"]) == 3 for item in response.json()["results"])


def test_a_cursor_page_runs_no_count(anonymous: APIClient, django_assert_num_queries: Any) -> None:
    make_measures(5)
    # data version, the page, categories, events, positions, parties, successor map: no COUNT.
    with django_assert_num_queries(7):
        response = anonymous.get(URL, {"cursor": "", "page_size": 2})
    assert "count" not in response.json()


def test_the_detail_runs_a_fixed_number_of_queries(
    anonymous: APIClient, django_assert_num_queries: Any
) -> None:
    make_measures(2)
    slug = Measure.objects.first().slug
    # 1 the measure, 2 categories, 3 events, 4 positions, 5 named parties, 6 successor map,
    # 7 every citation of the measure, its events and positions, with their sources.
    with django_assert_num_queries(7):
        response = anonymous.get(f"{URL}{slug}/")
    assert response.status_code == 200


def test_an_item_carries_its_events_positions_status_and_participations(
    anonymous: APIClient,
) -> None:
    usa, chn = ActorFactory(code="USA"), ActorFactory(code="CHN")
    measure = MeasureFactory(slug="talks", title="Talks", categories=["hotline"])
    EventFactory(measure=measure, kind="signed", date=D(2010, 1, 1))
    EventFactory(measure=measure, kind="ratified", date=D(2010, 6, 1), actor=usa)
    EventFactory(measure=measure, kind="entered_into_force", date=D(2011, 1, 1))
    PositionFactory(measure=measure, actor=chn, stance="opposes", date=D(2019, 5, 6))
    PositionFactory(measure=measure, actor=chn, stance="opposes", date=D(2020, 2, 12))
    PositionFactory(measure=measure, actor=usa, stance="endorses", date=D(2019, 1, 1))
    item = anonymous.get(URL).json()["results"][0]
    assert item["slug"] == "talks"
    assert item["url"] == "http://testserver/api/v1/measures/talks/"
    assert item["status"] == "in_force"
    assert item["participations"] == {
        "USA": {
            "participation": "party",
            "certain": True,
            "possible": ["party"],
            "basis": "confirmed",
        }
    }
    assert [e["kind"] for e in item["events"]] == ["signed", "ratified", "entered_into_force"]
    assert item["current_positions"] == [
        {
            "id": item["current_positions"][0]["id"],
            "actor": "CHN",
            "stance": "opposes",
            "date": "2020-02-12",
            "date_precision": "day",
            "quote": "",
            "certainty": "confirmed",
            "certain": True,
            "stance_possible": ["opposes"],
            "basis": "confirmed",
            "since": "2019-05-06",  # opposed without a break since the first statement
        },
        {
            "id": item["current_positions"][1]["id"],
            "actor": "USA",
            "stance": "endorses",
            "date": "2019-01-01",
            "date_precision": "day",
            "quote": "",
            "certainty": "confirmed",
            "certain": True,
            "stance_possible": ["endorses"],
            "basis": "confirmed",
            "since": "2019-01-01",
        },
    ]


def test_the_detail_cites_everything(anonymous: APIClient) -> None:
    measure = MeasureFactory(slug="inf")
    event = EventFactory(measure=measure)
    position = PositionFactory(measure=measure)
    CitationFactory(measure=measure, locator="p. 1")
    CitationFactory(measure=None, event=event, locator="art. 2")
    CitationFactory(measure=None, position=position, locator="para 3")
    body = anonymous.get(f"{URL}inf/").json()
    assert [c["locator"] for c in body["citations"]] == ["p. 1"]
    assert [c["locator"] for c in body["events"][0]["citations"]] == ["art. 2"]
    assert [c["locator"] for c in body["positions"][0]["citations"]] == ["para 3"]
    assert [c["locator"] for c in body["current_positions"][0]["citations"]] == ["para 3"]
    assert body["citations"][0]["source"]["url"].startswith("https://news.example.org/")


@pytest.fixture
def demo() -> None:
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("inf-treaty/?as_of=2019-01-01", "in_force"),
        ("inf-treaty/?as_of=2019-09-01", "terminated"),
        ("inf-treaty/?as_of=1987-01-01", None),
        ("new-start/?as_of=2024-01-01", "suspended"),  # Russia suspended a bilateral treaty
    ],
)
def test_as_of_on_the_demo_data(
    anonymous: APIClient, demo: None, path: str, expected: str | None
) -> None:
    body = anonymous.get(URL + path).json()
    assert body["status"] == expected
    on = path.split("=")[1]
    assert body["status_on"] == on
    assert all(event["date"] <= on for event in body["events"])


def test_russias_new_start_participation_on_the_demo_data(anonymous: APIClient, demo: None) -> None:
    before = anonymous.get(f"{URL}new-start/?as_of=2022-01-01").json()
    after = anonymous.get(f"{URL}new-start/?as_of=2024-01-01").json()
    assert before["participations"]["RUS"]["participation"] == "party"
    assert after["participations"]["RUS"]["participation"] == "suspended"
    assert after["participations"]["USA"]["participation"] == "party"


def test_what_was_in_force_on_a_day(anonymous: APIClient, demo: None) -> None:
    in_force_2019 = anonymous.get(URL, {"status": "in_force", "as_of": "2019-01-01"}).json()
    slugs = {item["slug"] for item in in_force_2019["results"]}
    assert {"inf-treaty", "new-start"} <= slugs
    assert all(item["status"] == "in_force" for item in in_force_2019["results"])
    later = anonymous.get(URL, {"status": "in_force", "as_of": "2019-09-01"}).json()
    assert "inf-treaty" not in {item["slug"] for item in later["results"]}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"category": "launch_notification"}, {"notify"}),
        ({"status": "in_force"}, {"notify"}),
        ({"form": "proposal"}, {"zone"}),
        ({"scope": "multilateral"}, {"zone"}),
        ({"venue": "disarmament"}, {"zone"}),
        ({"actor": "JPN"}, {"zone"}),
        ({"party": "USA"}, {"notify"}),
        ({"endorsed_by": "JPN"}, {"zone"}),
        ({"opposed_by": "CHN"}, {"zone"}),
        ({"as_of": "1999-01-01", "status": "in_force"}, set()),
        ({"changed_since": "2000-01-01T00:00:00Z"}, {"notify", "zone"}),
        ({"q": "launches"}, {"notify"}),
        ({"ordering": "-slug"}, {"notify", "zone"}),
    ],
)
def test_each_filter_over_http(
    anonymous: APIClient, params: dict[str, str], expected: set[str]
) -> None:
    usa, jpn, chn = ActorFactory(code="USA"), ActorFactory(code="JPN"), ActorFactory(code="CHN")
    notify = MeasureFactory(
        slug="notify", title="Notification of launches", categories=["launch_notification"]
    )
    EventFactory(measure=notify, kind="entered_into_force", date=D(2000, 1, 1))
    EventFactory(measure=notify, kind="ratified", date=D(2000, 1, 1), actor=usa)
    zone = MeasureFactory(
        slug="zone",
        title="Deployment zone",
        form="proposal",
        scope="multilateral",
        venue="Conference on Disarmament",
        categories=["deployment_zone_limit"],
    )
    PositionFactory(measure=zone, actor=jpn, stance="proposes")
    PositionFactory(measure=zone, actor=chn, stance="opposes")
    for measure in (notify, zone):
        measure_recompute_status(measure=measure)
    response = anonymous.get(URL, params)
    assert response.status_code == 200, response.json()
    assert {item["slug"] for item in response.json()["results"]} == expected


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"category": "missiles"}, "category"),
        ({"status": "alive"}, "status"),
        ({"as_of": "2019-02-30"}, "as_of"),
        ({"ordering": "popularity"}, "ordering"),
        ({"changed_since": "yesterday"}, "changed_since"),
        ({"categroy": "hotline"}, "categroy"),  # a typo is not silently ignored
        ({"page_size": "500"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"page": "first"}, "page"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    anonymous: APIClient, params: dict[str, str], named: str
) -> None:
    response = anonymous.get(URL, params)
    assert response.status_code == 400
    assert named in response.json()


@pytest.mark.parametrize(
    ("params", "named"), [({"actor": "XYZ"}, "actor"), ({"cursor": "not-a-cursor"}, "cursor")]
)
def test_a_parameter_naming_nothing_is_a_404_naming_it(
    anonymous: APIClient, params: dict[str, str], named: str
) -> None:
    response = anonymous.get(URL, params)
    assert response.status_code == 404
    assert list(response.json()) == [named]


def test_a_bad_as_of_on_the_detail_is_a_400(anonymous: APIClient) -> None:
    MeasureFactory(slug="inf")
    response = anonymous.get(f"{URL}inf/", {"as_of": "soon"})
    assert response.status_code == 400
    assert "as_of" in response.json()


def test_an_unknown_measure_is_a_json_404(anonymous: APIClient) -> None:
    response = anonymous.get(f"{URL}nothing/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_numbered_pages(anonymous: APIClient) -> None:
    for i in range(5):
        MeasureFactory(slug=f"m{i}")
    first = anonymous.get(URL, {"page_size": 2})
    body = first.json()
    assert [item["slug"] for item in body["results"]] == ["m0", "m1"]
    assert body["count"] == 5
    assert 'rel="next"' in first["Link"]
    last = anonymous.get(URL, {"page_size": 2, "page": 3}).json()
    assert [item["slug"] for item in last["results"]] == ["m4"]
    assert last["next"] is None
    assert anonymous.get(URL, {"page_size": 2, "page": 4}).status_code == 404


@pytest.mark.parametrize("ordering", ["slug", "-title", "status,-updated_at"])
def test_a_cursor_walk_sees_every_row_once_in_order(anonymous: APIClient, ordering: str) -> None:
    for i in range(7):
        MeasureFactory(slug=f"m{i}", title=f"Title {i % 3}")
    expected = [
        item["slug"] for item in anonymous.get(URL, {"ordering": ordering}).json()["results"]
    ]
    seen: list[str] = []
    url: str | None = f"{URL}?cursor=&page_size=3&ordering={ordering}"
    while url:
        body = anonymous.get(url).json()
        seen += [item["slug"] for item in body["results"]]
        url = body["next"]
    assert seen == expected


def test_a_cursor_is_bound_to_its_ordering(anonymous: APIClient) -> None:
    for i in range(3):
        MeasureFactory(slug=f"m{i}")
    next_url = anonymous.get(URL, {"cursor": "", "page_size": 1}).json()["next"]
    response = anonymous.get(next_url + "&ordering=-slug")
    assert response.status_code == 404  # it names no page of this ordering
    assert response.json() == {"cursor": ["This cursor was made for another ordering."]}


def test_csv(anonymous: APIClient) -> None:
    usa = ActorFactory(code="USA")
    measure = MeasureFactory(slug="inf", title="=HYPERLINK(1)", categories=["hotline", "other"])
    EventFactory(measure=measure, kind="entered_into_force", date=D(2000, 1, 1))
    EventFactory(measure=measure, kind="ratified", date=D(2000, 1, 1), actor=usa)
    for response in (
        anonymous.get(URL, {"format": "csv"}),
        anonymous.get(URL, HTTP_ACCEPT="text/csv"),
    ):
        assert response["Content-Type"].startswith("text/csv")
        header, row = response.content.decode().splitlines()
        assert header.startswith(
            "slug,title,categories,form,scope,venue,parent,parties,status,status_certain,"
            "status_possible,status_basis"
        )
        assert row.startswith(
            "inf,'=HYPERLINK(1),hotline; other,agreement,bilateral,,,,"
            "in_force,true,in_force,confirmed"
        )
        assert "USA: party" in row


def test_csv_is_offered_for_lists_only(anonymous: APIClient) -> None:
    MeasureFactory(slug="inf")
    assert anonymous.get(f"{URL}inf/", {"format": "csv"}).status_code == 406


# --- writes -------------------------------------------------------------------------------------


def measure_document(**overrides: Any) -> dict[str, Any]:
    return {
        "slug": "launch-notice",
        "title": "Launch notification agreement",
        "summary": "Notice 24 hours before any ballistic missile launch.",
        "categories": ["launch_notification"],
        "form": "agreement",
        "scope": "bilateral",
        "venue": "Bilateral talks",
        "parameters": {"notice_hours": 24},
        "events": [
            {"kind": "signed", "date": "2009-10-13"},
            {"kind": "entered_into_force", "date": "2009-10-13"},
            {"kind": "signed", "date": "2009-10-13", "actor": "rus"},
        ],
        "positions": [{"actor": "CHN", "stance": "endorses", "date": "2009-10-13"}],
        **overrides,
    }


@pytest.fixture
def actors() -> None:
    for code in ("USA", "RUS", "CHN"):
        ActorFactory(code=code)


@pytest.mark.usefixtures("actors")
def test_a_curator_creates_a_measure_with_its_events_and_positions(
    curator: APIClient, curator_user: Any
) -> None:
    response = curator.post(URL, measure_document(), format="json")
    assert response.status_code == 201, response.json()
    assert response["Location"] == "http://testserver/api/v1/measures/launch-notice/"
    assert response["ETag"]
    body = response.json()
    assert body["status"] == "in_force"
    assert {code: p["participation"] for code, p in body["participations"].items()} == {
        "RUS": "signatory"
    }
    measure = Measure.objects.get(slug="launch-notice")
    assert measure.status == "in_force"  # stored, recomputed from the new events
    assert measure.events.count() == 3
    assert measure.history.latest().history_user == curator_user
    assert Event.history.filter(history_user=curator_user).count() == 3


@pytest.mark.usefixtures("actors")
def test_a_nested_error_rolls_everything_back_and_names_the_item(curator: APIClient) -> None:
    document = measure_document(
        events=[
            {"kind": "signed", "date": "2009-10-13"},
            {"kind": "signed", "date": "2009-10-15", "date_precision": "month"},
        ]
    )
    response = curator.post(URL, document, format="json")
    assert response.status_code == 400
    assert "events[1].date" in response.json()
    assert not Measure.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"categories": []}, "categories"),
        ({"categories": ["missiles"]}, "categories"),
        ({"form": "pact"}, "form"),
        ({"slug": "not a slug"}, "slug"),
    ],
)
@pytest.mark.usefixtures("actors")
def test_invalid_fields_are_400s_naming_them(
    curator: APIClient, overrides: dict[str, Any], field: str
) -> None:
    response = curator.post(URL, measure_document(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"events": [{"kind": "signed", "date": "2009-10-13", "actor": "XYZ"}]}, "events"),
        ({"parent": "no-such-measure"}, "parent"),
    ],
)
@pytest.mark.usefixtures("actors")
def test_a_field_naming_nothing_is_a_404_naming_it(
    curator: APIClient, overrides: dict[str, Any], field: str
) -> None:
    response = curator.post(URL, measure_document(**overrides), format="json")
    assert response.status_code == 404
    assert list(response.json()) == [field]
    assert not Measure.objects.exists()


@pytest.mark.usefixtures("actors")
def test_a_duplicate_slug_is_a_409_naming_the_measure(curator: APIClient) -> None:
    MeasureFactory(slug="launch-notice")
    response = curator.post(URL, measure_document(), format="json")
    assert response.status_code == 409
    assert response.json()["existing"] == "http://testserver/api/v1/measures/launch-notice/"
    assert "slug" in response.json()["detail"].lower()
    assert Measure.objects.count() == 1


@pytest.mark.usefixtures("actors")
def test_put_replaces_the_nested_lists(curator: APIClient) -> None:
    created = curator.post(URL, measure_document(), format="json")
    body = created.json()
    signed = next(e for e in body["events"] if e["kind"] == "signed" and e["actor"] is None)
    document = measure_document(
        events=[
            {**signed, "description": "Signed in Moscow."},
            {"kind": "entered_into_force", "date": "2009-10-13"},
            {"kind": "terminated", "date": "2020-01-01"},
        ],
        positions=[],
    )
    response = curator.put(
        f"{URL}launch-notice/", document, format="json", HTTP_IF_MATCH=created["ETag"]
    )
    assert response.status_code == 200, response.json()
    measure = Measure.objects.get(slug="launch-notice")
    assert measure.status == "terminated"
    assert measure.events.get(pk=signed["id"]).description == "Signed in Moscow."
    assert sorted(measure.events.values_list("kind", flat=True)) == [
        "entered_into_force",
        "signed",
        "terminated",
    ]
    assert not Position.objects.exists()


@pytest.mark.usefixtures("actors")
def test_an_event_id_of_another_measure_is_refused(curator: APIClient) -> None:
    other = EventFactory()
    created = curator.post(URL, measure_document(), format="json")
    response = curator.patch(
        f"{URL}launch-notice/",
        {"events": [{"id": other.pk, "kind": "signed", "date": "2009-10-13"}]},
        format="json",
        HTTP_IF_MATCH=created["ETag"],
    )
    # It names no event of this measure: a 404, whose body names the field.
    assert response.status_code == 404
    assert response.json() == {
        "events": [f"Not events of this measure: [{other.pk}]. Leave out the id to add one."]
    }
    assert Event.objects.get(pk=other.pk).measure_id == other.measure_id


@pytest.mark.usefixtures("actors")
def test_a_patch_that_changes_nothing_writes_nothing(curator: APIClient) -> None:
    created = curator.post(URL, measure_document(), format="json")
    measure = Measure.objects.get(slug="launch-notice")
    history = measure.history.count()
    event_history = Event.history.count()
    body = created.json()
    response = curator.patch(
        f"{URL}launch-notice/",
        {
            "title": body["title"],
            "categories": body["categories"],
            "parameters": body["parameters"],
            "events": [
                {key: e[key] for key in ("id", "kind", "date", "date_precision", "actor")}
                for e in body["events"]
            ],
        },
        format="json",
        HTTP_IF_MATCH=created["ETag"],
    )
    assert response.status_code == 200, response.json()
    assert response.json()["updated_at"] == body["updated_at"]
    assert measure.history.count() == history
    assert Event.history.count() == event_history
    assert response["ETag"] == created["ETag"]


@pytest.mark.usefixtures("actors")
def test_a_real_change_moves_updated_at_and_writes_one_history_row(
    curator: APIClient, curator_user: Any
) -> None:
    created = curator.post(URL, measure_document(), format="json")
    measure = Measure.objects.get(slug="launch-notice")
    history = measure.history.count()
    response = curator.patch(
        f"{URL}launch-notice/",
        {"title": "Renamed", "categories": ["launch_notification", "transparency"]},
        format="json",
        HTTP_IF_MATCH=created["ETag"],
    )
    assert response.status_code == 200
    assert response.json()["updated_at"] > created.json()["updated_at"]
    assert measure.history.count() == history + 1
    latest = measure.history.latest()
    assert latest.title == "Renamed"
    assert latest.history_user == curator_user
    assert sorted(c.category_id for c in latest.categories.all()) == [
        "launch_notification",
        "transparency",
    ]


@pytest.mark.usefixtures("actors")
def test_a_curator_deletes_a_measure(curator: APIClient, curator_user: Any) -> None:
    created = curator.post(URL, measure_document(), format="json")
    response = curator.delete(f"{URL}launch-notice/", HTTP_IF_MATCH=created["ETag"])
    assert response.status_code == 204
    assert not Measure.objects.exists()
    deletion = Measure.history.filter(history_type="-").get()
    assert deletion.history_user == curator_user
