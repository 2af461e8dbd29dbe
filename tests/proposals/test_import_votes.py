"""Recorded UN votes as positions: ``manage.py import_votes`` and the admin upload.

The sample files in ``data/`` hold made-up rows (see ``data/README.md``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from contextlib import AbstractContextManager
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from proposals.models import Citation, Measure, Position
from proposals.votes import (
    Resolution,
    VoteRow,
    VotesFileError,
    read_votes_csv,
    votes_import,
)
from tests.factories import ActorFactory, MeasureFactory, SourceFactory
from tracker.models import Source

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"
UNDL = DATA / "undl_votes_sample.csv"
MINIMAL = DATA / "votes_minimal_sample.csv"
R901, R902 = "A/RES/79/901", "A/RES/79/902"
VOTED_ON = datetime.date(2024, 12, 2)  # A/RES/79/901
LATER = datetime.date(2024, 12, 5)  # A/RES/79/902
CODES = ("USA", "RUS", "CHN", "JPN", "KOR", "PRK", "GBR", "FRA")


@pytest.fixture
def curator() -> User:
    return User.objects.create_user("curator", is_staff=True)


@pytest.fixture
def measure() -> Measure:
    """The states of the sample files (not Benin) and a measure listing both resolutions."""
    for code in CODES:
        ActorFactory(code=code, name=f"State {code}")
    return MeasureFactory(slug="launch-notice", parameters={"un_resolutions": [R901, R902]})


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_votes", *[str(a) for a in args], stdout=out, stderr=StringIO())
    return out.getvalue()


def stances(date: datetime.date = VOTED_ON) -> dict[str, str]:
    return dict(Position.objects.filter(date=date).values_list("actor__code", "stance"))


def history_rows() -> int:
    return sum(
        model.history.count()  # type: ignore[attr-defined]
        for model in (Position, Citation, Source, Measure)
    )


def test_yes_no_abstention_become_stances_and_non_voting_no_position(
    measure: Measure, curator: User
) -> None:
    output = run(UNDL, "--user", "curator")

    assert stances(VOTED_ON) == {
        "USA": "endorses",
        "RUS": "opposes",
        "CHN": "neutral",
        "JPN": "endorses",
        "KOR": "endorses",
        "PRK": "opposes",
        "GBR": "endorses",
    }  # FRA did not vote (X): no position
    assert stances(LATER)["FRA"] == "opposes"
    assert "18 rows read, 2 of them non-voting (no position)" in output
    position = Position.objects.get(actor__code="USA", date=VOTED_ON)
    assert (position.measure, position.date_precision, position.certainty) == (
        measure,
        "day",
        "confirmed",
    )


def test_each_resolution_goes_to_the_measures_that_list_it(curator: User) -> None:
    for code in CODES:
        ActorFactory(code=code)
    first = MeasureFactory(slug="first", parameters={"un_resolutions": ["a/res/79/ 901"]})
    second = MeasureFactory(slug="second", parameters={"un_resolutions": [R902]})

    run(UNDL, "--user", "curator")

    assert dict(first.positions.values_list("actor__code", "stance"))["USA"] == "endorses"
    assert dict(second.positions.values_list("actor__code", "stance"))["USA"] == "opposes"
    assert first.positions.count() == 7
    assert second.positions.count() == 8


def test_states_match_by_code_by_alias_and_by_country_name(curator: User) -> None:
    ActorFactory(code="USA", name="United States of America", aliases=["United States"])
    ActorFactory(code="RUS", name="Russia")  # "Russian Federation" is django-countries' name
    ActorFactory(code="CHN", name="China")
    MeasureFactory(parameters={"un_resolutions": [R901]})

    output = run(MINIMAL, "--user", "curator")

    assert stances() == {"USA": "endorses", "RUS": "opposes", "CHN": "neutral"}
    assert "state not matched to an actor: Atlantis (rows skipped: 1)" in output
    assert "5 rows read, 1 of them non-voting" in output  # Japan: absent


def test_a_state_that_matches_no_actor_is_reported(measure: Measure, curator: User) -> None:
    output = run(UNDL, "--user", "curator")

    # Benin voted yes on 901 (reported) and did not vote on 902 (counted as non-voting).
    assert "state not matched to an actor: BEN BENIN (rows skipped: 1)" in output
    assert not Position.objects.filter(actor__code="BEN").exists()


def test_a_resolution_no_measure_lists_is_reported_and_skipped(curator: User) -> None:
    for code in CODES:
        ActorFactory(code=code)
    MeasureFactory(parameters={"un_resolutions": [R901]})

    output = run(UNDL, "--user", "curator")

    assert f"resolution matched by no measure: {R902} (rows skipped: 8;" in output
    assert Position.objects.count() == 7


def test_create_measures_creates_one_measure_per_unlisted_resolution(curator: User) -> None:
    for code in CODES:
        ActorFactory(code=code)

    run(UNDL, "--user", "curator", "--create-measures", "--category", "launch_notification")
    run(UNDL, "--user", "curator", "--create-measures", "--category", "launch_notification")

    created = Measure.objects.get(slug="a-res-79-901")
    assert (created.form, created.scope, created.venue) == (
        "proposal",
        "multilateral",
        "UN General Assembly",
    )
    assert created.parameters == {"un_resolutions": [R901]}
    assert list(created.categories.values_list("code", flat=True)) == ["launch_notification"]
    assert created.title.startswith("Advance notification of ballistic missile launches")
    assert Measure.objects.count() == 2  # the second run found them
    assert {h.history_user for h in created.history.all()} == {curator}


def test_importing_the_same_file_twice_writes_nothing_the_second_time(
    measure: Measure, curator: User
) -> None:
    run(UNDL, "--user", "curator")
    before = history_rows()
    stamps = sorted(Position.objects.values_list("updated_at", flat=True))

    output = run(UNDL, "--user", "curator")

    assert history_rows() == before
    assert sorted(Position.objects.values_list("updated_at", flat=True)) == stamps
    assert "positions: 0 created, 0 updated, 15 unchanged" in output
    assert "citations: 0 created" in output
    assert "sources: 0 created, 2 matched" in output


def test_a_changed_vote_updates_the_position(
    measure: Measure, curator: User, tmp_path: Path
) -> None:
    run(UNDL, "--user", "curator", "--measure", "launch-notice")
    position = Position.objects.get(actor__code="USA", date=LATER)
    assert position.stance == "opposes"
    changed = tmp_path / "votes.csv"
    changed.write_text(
        UNDL.read_text().replace("9000902,USA,UNITED STATES,N,", "9000902,USA,UNITED STATES,A,")
    )
    before = history_rows()

    output = run(changed, "--user", "curator", "--measure", "launch-notice")

    position.refresh_from_db()
    assert position.stance == "neutral"
    assert "positions: 0 created, 1 updated, 14 unchanged" in output
    assert history_rows() == before + 1
    latest = position.history.first()
    assert (latest.history_type, latest.stance, latest.history_user) == ("~", "neutral", curator)
    assert position.citations.count() == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,c\n1,2,3\n", "line 1: the header (a, b, c) is neither"),
        (
            "undl_id,ms_code,ms_name,date,resolution\n1,USA,UNITED STATES,2024-12-02,A/RES/1\n",
            "line 1: missing columns: ms_vote",
        ),
        (
            "resolution,date,country,vote\nA/RES/1,2024-12-02,USA,yes\nA/RES/1,02/12/2024,RUS,no\n",
            "line 3: date '02/12/2024' is not YYYY-MM-DD",
        ),
        (
            "resolution,date,country,vote\nA/RES/1,2024-12-02,USA,maybe\n",
            "line 2: vote 'maybe' is not one of Y, N, A, X",
        ),
        (
            "resolution,date,country,vote\nA/RES/1,2024-12-02,USA,yes\nA/RES/1,2024-12-03,RUS,no\n",
            "line 3: A/RES/1 is dated 2024-12-03 here but 2024-12-02 on an earlier line",
        ),
        (
            "resolution,date,country,vote\nA/RES/1,2024-12-02,USA,yes\nA/RES/1,2024-12-02,USA,no\n",
            "line 3: a second, different vote of USA on A/RES/1 (the first is on line 2)",
        ),
        (
            "resolution,date,country,vote,url\nA/RES/1,2024-12-02,USA,yes,ftp://un.org/r\n",
            "line 2: record URL: Only http and https",
        ),
    ],
)
def test_a_malformed_file_is_refused_naming_the_line_and_nothing_is_written(
    measure: Measure, curator: User, tmp_path: Path, text: str, message: str
) -> None:
    measure.parameters = {"un_resolutions": ["A/RES/1"]}
    measure.save()
    bad = tmp_path / "votes.csv"
    bad.write_text(text)

    with pytest.raises(CommandError, match="Nothing was imported") as raised:
        run(bad, "--user", "curator")

    assert message in str(raised.value)
    assert Position.objects.count() == 0
    assert Source.objects.count() == 0


def test_every_problem_of_a_file_is_listed() -> None:
    with pytest.raises(VotesFileError) as raised:
        read_votes_csv(
            "resolution,date,country,vote\nA/RES/1,bad,USA,yes\nA/RES/1,2024-12-02,,no\n"
        )

    assert raised.value.problems == [
        "line 2: date 'bad' is not YYYY-MM-DD",
        "line 3: no state (country is empty)",
    ]


def test_each_record_is_one_primary_source_cited_once_per_position(
    measure: Measure, curator: User
) -> None:
    # A curator already entered the 901 record, spelled differently: it is matched, not redone.
    known = SourceFactory(url="https://digitallibrary.un.org/record/9000901", title="Mine")

    run(UNDL, "--user", "curator")
    run(UNDL, "--user", "curator")

    assert Source.objects.count() == 2
    known.refresh_from_db()
    assert known.title == "Mine"
    record = Source.objects.get(url="https://digitallibrary.un.org/record/9000902")
    assert (record.kind, record.is_primary, record.publisher) == (
        "official_statement",
        True,
        "United Nations Digital Library",
    )
    assert Citation.objects.count() == Position.objects.count() == 15
    citation = Citation.objects.get(position__actor__code="USA", source=record)
    assert citation.locator == f"{R902}, recorded vote"
    assert (citation.position.measure, citation.position.date) == (measure, LATER)


def test_a_record_url_in_another_spelling_matches_the_same_source(
    measure: Measure, curator: User, tmp_path: Path
) -> None:
    source = SourceFactory(url="https://digitallibrary.un.org/record/9000901")
    spelled = tmp_path / "votes.csv"
    spelled.write_text(
        UNDL.read_text().replace(
            "https://digitallibrary.un.org/record/9000901",
            "HTTPS://DigitalLibrary.UN.org:443/record/9000901?utm_source=x#votes",
        )
    )

    run(spelled, "--user", "curator")

    assert Citation.objects.filter(source=source).count() == 7
    assert Source.objects.count() == 2


def test_without_a_record_url_the_citation_points_at_a_search_for_the_symbol(
    curator: User,
) -> None:
    ActorFactory(code="CHN")
    MeasureFactory(parameters={"un_resolutions": [R901]})

    run(MINIMAL, "--user", "curator")

    assert Source.objects.get().url == (
        "https://digitallibrary.un.org/search?p=A%2FRES%2F79%2F901&cc=Voting+Data"
    )


def test_every_history_row_names_the_user(measure: Measure, curator: User) -> None:
    run(UNDL, "--user", "curator")

    for model in (Position, Citation, Source):
        users = set(model.history.values_list("history_user", flat=True))  # type: ignore[attr-defined]
        assert users == {curator.pk}, model
    assert Position.history.filter(history_change_reason=f"Recorded vote on {R901}").count() == 7


def test_two_resolutions_voted_the_same_day_cannot_share_a_measure(
    measure: Measure, curator: User, tmp_path: Path
) -> None:
    # A state has one position per measure and day: which vote would it be?
    same_day = tmp_path / "votes.csv"
    same_day.write_text(UNDL.read_text().replace("2024-12-05", "2024-12-02"))

    with pytest.raises(CommandError, match=f"{R901} and {R902} were both voted on 2024-12-02"):
        run(same_day, "--user", "curator", "--measure", "launch-notice")

    assert Position.objects.count() == 0


def test_an_unknown_user_or_measure_is_refused(measure: Measure) -> None:
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run(UNDL, "--user", "nobody")
    with pytest.raises(CommandError, match="No measure with the slug 'nope'"):
        run(UNDL, "--measure", "nope")


# --- query count ---------------------------------------------------------------------------------


def resolutions(count: int, states: list[str]) -> list[Resolution]:
    return [
        Resolution(
            symbol=f"A/RES/79/{n}",
            date=VOTED_ON + datetime.timedelta(days=n),
            url=f"https://digitallibrary.un.org/record/{n}",
            title="",
            rows=[VoteRow(line=i, code=code, name="", vote="Y") for i, code in enumerate(states)],
        )
        for n in range(count)
    ]


# Per import: the savepoint of the import's transaction, the actors, the measures' parameters,
# the sources already known; once every vote is in, who is involved in the measures (the
# measures locked, the actors of their events, positions and parties, the involvement rows
# stored, the insert of the new ones); the savepoint's release.
# Per resolution, first import: the source (the savepoint of source_create, its unique-URL
# check, insert, history insert, release), the positions already on that day, the positions'
# insert and history insert, the citations already there, the citations' insert and history
# insert.
FIRST_IMPORT = (9, 11)
# Per resolution, again: the positions already on that day and the citations already there.
REIMPORT = (5, 2)


@pytest.mark.parametrize("states", [["USA", "RUS"], list(CODES)])
@pytest.mark.parametrize("count", [1, 3])
def test_queries_grow_with_resolutions_not_rows(
    django_assert_num_queries: Callable[[int], AbstractContextManager[Any]],
    curator: User,
    states: list[str],
    count: int,
) -> None:
    for code in CODES:
        ActorFactory(code=code)
    data = resolutions(count, states)
    MeasureFactory(parameters={"un_resolutions": [r.symbol for r in data]})

    per_import, per_resolution = FIRST_IMPORT
    with django_assert_num_queries(per_import + per_resolution * count):
        votes_import(resolutions=data, user=curator)
    per_import, per_resolution = REIMPORT
    with django_assert_num_queries(per_import + per_resolution * count):
        report = votes_import(resolutions=data, user=curator)

    assert report.positions_unchanged == count * len(states)


# --- admin upload --------------------------------------------------------------------------------


@pytest.fixture
def staff_client(curator: User) -> Client:
    curator.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_position", "view_position"])
    )
    client = Client()
    client.force_login(curator)
    return client


def test_the_position_list_links_to_the_upload(staff_client: Client) -> None:
    page = staff_client.get(reverse("admin:proposals_position_changelist"))

    assert reverse("admin:proposals_position_import_votes") in page.content.decode()


def test_a_curator_uploads_a_votes_file_in_the_admin(
    measure: Measure, curator: User, staff_client: Client
) -> None:
    url = reverse("admin:proposals_position_import_votes")
    assert staff_client.get(url).status_code == 200

    with UNDL.open("rb") as upload:
        page = staff_client.post(url, {"file": upload, "category": "other"})

    assert page.status_code == 200
    body = page.content.decode()
    assert "positions: 15 created, 0 updated, 0 unchanged" in body
    assert "BEN BENIN" in body
    assert Position.objects.count() == 15
    assert set(Position.history.values_list("history_user", flat=True)) == {curator.pk}


def test_the_admin_upload_shows_a_bad_file_and_writes_nothing(
    measure: Measure, staff_client: Client, tmp_path: Path
) -> None:
    bad = tmp_path / "votes.csv"
    bad.write_text("resolution,date,country,vote\nA/RES/1,soon,USA,yes\n")

    with bad.open("rb") as upload:
        page = staff_client.post(
            reverse("admin:proposals_position_import_votes"), {"file": upload, "category": "other"}
        )

    assert "line 2: date &#x27;soon&#x27; is not YYYY-MM-DD" in page.content.decode()
    assert Position.objects.count() == 0


def test_the_upload_needs_the_right_to_add_positions(curator: User) -> None:
    client = Client()
    client.force_login(curator)  # staff, but without add_position

    page = client.get(reverse("admin:proposals_position_import_votes"))

    assert page.status_code == 403
