"""ETag / If-None-Match on reads (304) and If-Match on writes (412, 428)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from proposals.models import Event, Measure
from tests.factories import ActorFactory, EventFactory, MeasureFactory, SourceCheckFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/measures/"


@pytest.fixture
def measure() -> Measure:
    measure = MeasureFactory(slug="inf", title="INF Treaty")
    EventFactory(measure=measure, kind="signed", date=datetime.date(1987, 12, 8))
    return measure


@pytest.mark.usefixtures("measure")
class TestReads:
    @pytest.mark.parametrize(
        "path",
        [
            URL,
            f"{URL}?status=signed",
            f"{URL}inf/",
            "/api/v1/actors/",
            "/api/v1/events/",
            "/api/v1/positions/",
            "/api/v1/sources/",
            "/api/v1/citations/",
            "/api/v1/matrix/",
            "/api/v1/matrix/?format=csv&as_of=2000-01-01",
            "/api/v1/export/",
            "/api/v1/export/?format=csv&table=measures",
        ],
    )
    def test_a_current_etag_gets_a_bodiless_304(self, anonymous: APIClient, path: str) -> None:
        first = anonymous.get(path)
        assert first.status_code == 200
        etag = first["ETag"]
        again = anonymous.get(path, HTTP_IF_NONE_MATCH=etag)
        assert again.status_code == 304
        assert again.content == b""
        assert again["ETag"] == etag

    def test_a_list_304_costs_one_query(
        self, anonymous: APIClient, django_assert_num_queries: Any
    ) -> None:
        etag = anonymous.get(URL)["ETag"]
        # Only the data version: no count, no page, no serialization.
        with django_assert_num_queries(1):
            assert anonymous.get(URL, HTTP_IF_NONE_MATCH=etag).status_code == 304

    @pytest.mark.parametrize("path", ["/api/v1/matrix/", "/api/v1/export/"])
    def test_a_current_matrix_or_export_costs_one_query_and_a_write_makes_it_stale(
        self, anonymous: APIClient, django_assert_num_queries: Any, path: str
    ) -> None:
        etag = anonymous.get(path)["ETag"]
        with django_assert_num_queries(1):
            assert anonymous.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 304

        ActorFactory()

        fresh = anonymous.get(path, HTTP_IF_NONE_MATCH=etag)
        assert fresh.status_code == 200
        assert fresh["ETag"] != etag

    def test_list_etags_differ_by_query_and_format(self, anonymous: APIClient) -> None:
        plain = anonymous.get(URL)["ETag"]
        assert anonymous.get(URL, {"status": "signed"})["ETag"] != plain
        assert anonymous.get(URL, {"format": "csv"})["ETag"] != plain
        assert anonymous.get(URL, HTTP_ACCEPT="text/csv")["ETag"] != plain
        # The order of parameters does not matter.
        a = anonymous.get(f"{URL}?status=signed&form=treaty")["ETag"]
        assert anonymous.get(f"{URL}?form=treaty&status=signed")["ETag"] == a

    @pytest.mark.parametrize("path", [URL, f"{URL}inf/"])
    def test_a_nested_write_changes_the_etag(
        self, anonymous: APIClient, measure: Measure, path: str
    ) -> None:
        etag = anonymous.get(path)["ETag"]
        event = EventFactory(measure=measure, kind="entered_into_force")
        assert anonymous.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 200
        etag = anonymous.get(path)["ETag"]
        event.delete()
        assert anonymous.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 200

    def test_a_row_committed_late_changes_list_etags(
        self, anonymous: APIClient, measure: Measure
    ) -> None:
        # On PostgreSQL a transaction can commit a row whose id is lower than one already seen.
        # Replayed here: the oldest history row goes away and comes back under its own id.
        for kind in ("ratified", "entered_into_force"):
            EventFactory(measure=measure, kind=kind)
        history = Event.history.model
        row = history.objects.order_by("history_id").values().first()
        history.objects.filter(pk=row["history_id"]).delete()
        etag = anonymous.get(URL)["ETag"]
        history.objects.create(**row)
        assert anonymous.get(URL, HTTP_IF_NONE_MATCH=etag).status_code == 200

    def test_a_source_check_changes_list_etags(self, anonymous: APIClient) -> None:
        etag = anonymous.get("/api/v1/sources/")["ETag"]
        SourceCheckFactory()
        assert anonymous.get("/api/v1/sources/", HTTP_IF_NONE_MATCH=etag).status_code == 200

    def test_a_new_day_changes_the_etag(self, anonymous: APIClient) -> None:
        # Statuses and participations are derived for today.
        with time_machine.travel(datetime.datetime(2030, 1, 1, 12, tzinfo=datetime.UTC)):
            etag = anonymous.get(URL)["ETag"]
            detail = anonymous.get(f"{URL}inf/")["ETag"]
        with time_machine.travel(datetime.datetime(2030, 1, 2, 12, tzinfo=datetime.UTC)):
            assert anonymous.get(URL, HTTP_IF_NONE_MATCH=etag).status_code == 200
            assert anonymous.get(f"{URL}inf/", HTTP_IF_NONE_MATCH=detail).status_code == 200

    def test_the_detail_has_a_last_modified(self, anonymous: APIClient) -> None:
        ActorFactory(code="USA")
        response = anonymous.get("/api/v1/actors/USA/")
        assert response["Last-Modified"].endswith("GMT")
        assert response["Cache-Control"] == "no-cache"

    def test_the_browsable_api_is_never_cached(self, anonymous: APIClient) -> None:
        response = anonymous.get(URL, HTTP_ACCEPT="text/html")
        assert response.status_code == 200
        assert "ETag" not in response


@pytest.mark.usefixtures("measure")
class TestWrites:
    @pytest.mark.parametrize("method", ["put", "patch", "delete"])
    def test_a_write_without_if_match_is_428(self, curator: APIClient, method: str) -> None:
        response = getattr(curator, method)(f"{URL}inf/", {"title": "x"}, format="json")
        assert response.status_code == 428
        assert "If-Match" in response.json()["detail"]
        assert Measure.objects.get(slug="inf").title == "INF Treaty"

    @pytest.mark.parametrize("method", ["put", "patch", "delete"])
    def test_a_stale_if_match_is_412(self, curator: APIClient, method: str) -> None:
        stale = curator.get(f"{URL}inf/")["ETag"]
        first = curator.patch(
            f"{URL}inf/", {"title": "First edit"}, format="json", HTTP_IF_MATCH=stale
        )
        assert first.status_code == 200
        response = getattr(curator, method)(
            f"{URL}inf/",
            {
                "title": "Second edit",
                "categories": ["hotline"],
                "slug": "inf",
                "form": "treaty",
                "scope": "bilateral",
            },
            format="json",
            HTTP_IF_MATCH=stale,
        )
        assert response.status_code == 412
        assert Measure.objects.get(slug="inf").title == "First edit"

    def test_a_change_to_a_nested_event_makes_the_measure_etag_stale(
        self, curator: APIClient, measure: Measure
    ) -> None:
        etag = curator.get(f"{URL}inf/")["ETag"]
        event = measure.events.get()
        event_etag = curator.get(f"/api/v1/events/{event.pk}/")["ETag"]
        curator.patch(
            f"/api/v1/events/{event.pk}/",
            {"description": "Signed in Washington."},
            format="json",
            HTTP_IF_MATCH=event_etag,
        )
        response = curator.patch(f"{URL}inf/", {"events": []}, format="json", HTTP_IF_MATCH=etag)
        assert response.status_code == 412
        assert measure.events.exists()

    def test_the_etag_of_a_write_response_is_good_for_the_next_write(
        self, curator: APIClient
    ) -> None:
        etag = curator.get(f"{URL}inf/")["ETag"]
        first = curator.patch(f"{URL}inf/", {"title": "One"}, format="json", HTTP_IF_MATCH=etag)
        second = curator.patch(
            f"{URL}inf/", {"title": "Two"}, format="json", HTTP_IF_MATCH=first["ETag"]
        )
        assert second.status_code == 200
        assert second["ETag"] == curator.get(f"{URL}inf/")["ETag"]

    def test_if_match_star_overwrites_on_purpose(self, curator: APIClient) -> None:
        response = curator.patch(f"{URL}inf/", {"title": "Mine"}, format="json", HTTP_IF_MATCH="*")
        assert response.status_code == 200
        assert Measure.objects.get(slug="inf").title == "Mine"

    def test_one_of_several_etags_may_match(self, curator: APIClient) -> None:
        etag = curator.get(f"{URL}inf/")["ETag"]
        response = curator.patch(
            f"{URL}inf/", {"title": "Ok"}, format="json", HTTP_IF_MATCH=f'"old", {etag}'
        )
        assert response.status_code == 200

    def test_a_weak_etag_never_matches_a_write(self, curator: APIClient) -> None:
        etag = curator.get(f"{URL}inf/")["ETag"]
        response = curator.patch(
            f"{URL}inf/", {"title": "No"}, format="json", HTTP_IF_MATCH=f"W/{etag}"
        )
        assert response.status_code == 412

    def test_permission_is_checked_before_the_precondition(self, reader: APIClient) -> None:
        assert reader.patch(f"{URL}inf/", {"title": "x"}, format="json").status_code == 403

    def test_a_missing_object_is_404_not_428(self, curator: APIClient) -> None:
        assert curator.delete(f"{URL}nothing/").status_code == 404

    @pytest.mark.parametrize(
        "header",
        [",", '"', "garbage", "", "  ", ", ,", "*, *", '*, "abc"', "W/", '"abc" "def"', '"ab"c'],
    )
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("patch", f"{URL}inf/"),
            ("put", f"{URL}inf/"),
            ("delete", f"{URL}inf/"),
            ("patch", "/api/v1/events/{event}/"),
            ("delete", "/api/v1/events/{event}/"),
        ],
    )
    def test_an_if_match_without_a_valid_entity_tag_is_a_400_that_writes_nothing(
        self, curator: APIClient, measure: Measure, header: str, method: str, path: str
    ) -> None:
        event = measure.events.get()
        history = Measure.history.count() + Event.history.count()

        response = getattr(curator, method)(
            path.format(event=event.pk), {"title": "x"}, format="json", HTTP_IF_MATCH=header
        )

        assert response.status_code == 400
        assert "If-Match must be * alone or a comma-separated list" in response.json()["detail"]
        assert Measure.objects.filter(slug="inf", title="INF Treaty").exists()
        assert Event.objects.filter(pk=event.pk).exists()
        assert Measure.history.count() + Event.history.count() == history

    @pytest.mark.parametrize(
        "header", ['"old", "a,b"', ' "old" ,, "other" ', '"old",', 'W/"old"', '""']
    )
    def test_a_well_formed_if_match_that_names_another_version_is_412(
        self, curator: APIClient, header: str
    ) -> None:
        response = curator.patch(f"{URL}inf/", {"title": "x"}, format="json", HTTP_IF_MATCH=header)
        assert response.status_code == 412

    def test_the_current_etag_is_found_among_empty_list_elements(self, curator: APIClient) -> None:
        etag = curator.get(f"{URL}inf/")["ETag"]
        response = curator.patch(
            f"{URL}inf/", {"title": "Ok"}, format="json", HTTP_IF_MATCH=f' , "old",, {etag} ,'
        )
        assert response.status_code == 200

    @pytest.mark.parametrize("header", [",", '"', "garbage"])
    def test_a_malformed_if_none_match_answers_in_full(
        self, anonymous: APIClient, header: str
    ) -> None:
        response = anonymous.get(f"{URL}inf/", HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 200
        assert response.json()["slug"] == "inf"


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ("/api/v1/actors/", {"as_of": "not-a-date"}),
        ("/api/v1/export/", {"table": "nope"}),
        ("/api/v1/measures/", {"unknown": "1"}),
    ],
)
def test_if_none_match_star_does_not_skip_checking_the_parameters(
    anonymous: APIClient, path: str, bad: dict[str, str]
) -> None:
    assert anonymous.get(path, bad, headers={"If-None-Match": "*"}).status_code == 400
    # With valid parameters, * names the current list: 304.
    assert anonymous.get(path, headers={"If-None-Match": "*"}).status_code == 304
