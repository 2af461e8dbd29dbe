"""GET /api/v1/measures/?q=: full-text search through the index of the database in use (a
stored generated column on PostgreSQL, an FTS5 table on SQLite), with the same answers on both."""

from __future__ import annotations

import datetime
import random
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.cache import caches
from django.db import connection
from rest_framework.test import APIClient

from proposals.models import Measure
from tests.factories import ActorFactory, EventFactory, MeasureFactory, PositionFactory

pytestmark = pytest.mark.django_db
D = datetime.date
URL = "/api/v1/measures/"


def found(client: APIClient, q: str, **params: str) -> list[str]:
    response = client.get(URL, {"q": q, **params})
    assert response.status_code == 200, response.content[:500]
    return [item["slug"] for item in response.json()["results"]]


@pytest.fixture
def world() -> None:
    MeasureFactory(
        slug="notify",
        title="Advance notification of missile launches",
        venue="Conference on Disarmament",
        summary="Each party notifies the other.",
    )
    MeasureFactory(
        slug="hotline",
        title="Crisis hotline",
        venue="bilateral talks",
        summary="A direct line for a nuclear emergency.",
    )
    MeasureFactory(
        slug="zone",
        title="Deployment zone limits",
        venue="UN General Assembly First Committee",
        summary="No intermediate-range missiles within the crisis area.",
    )
    MeasureFactory(
        slug="data",
        title="Data exchange",
        summary="Annual exchange of data on launches and a crisis hotline test.",
    )


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("launch", {"notify", "data"}),  # stemmed: launches
        ("LAUNCHING", {"notify", "data"}),
        ("notifications", {"notify"}),
        ("missile launches", {"notify"}),  # every word
        ('"crisis hotline"', {"hotline", "data"}),  # a phrase
        ('"hotline crisis"', set()),  # in that order only
        ("crisis -hotline", {"zone"}),
        ('-"crisis hotline"', {"notify", "zone"}),  # only an exclusion
        ("hotline or zone", {"hotline", "data", "zone"}),
        ("missile or -crisis", {"notify", "zone"}),
        ("disarmament", {"notify"}),  # the venue
        ("intermediate-range", {"zone"}),  # a hyphenated word
        ("first committee", {"zone"}),
        ("the of", set()),  # only stop words: nothing to look for
        ("treaty", set()),
    ],
)
def test_it_finds(anonymous: APIClient, q: str, expected: set[str]) -> None:
    assert set(found(anonymous, q)) == expected


@pytest.fixture
def ranked() -> None:
    MeasureFactory(slug="c-title", title="Verification protocol", summary="Text.")
    MeasureFactory(slug="a-venue", title="Other", venue="Verification commission", summary="Text.")
    MeasureFactory(slug="b-summary", title="Another", summary="Subject to verification.")
    MeasureFactory(slug="d-summary", title="Yet another", summary="Subject to verification.")
    for _ in range(6):  # measures the word does not occur in, as in any real collection
        MeasureFactory()


@pytest.mark.usefixtures("ranked")
def test_a_match_in_the_title_ranks_first_then_venue_then_summary(anonymous: APIClient) -> None:
    # Equal ranks (the two summaries) follow the default order, the slug.
    assert found(anonymous, "verification") == ["c-title", "a-venue", "b-summary", "d-summary"]


@pytest.mark.usefixtures("ranked")
def test_an_explicit_ordering_replaces_the_rank(anonymous: APIClient) -> None:
    assert found(anonymous, "verification", ordering="-slug") == [
        "d-summary",
        "c-title",
        "b-summary",
        "a-venue",
    ]


@pytest.mark.usefixtures("ranked")
def test_a_cursor_walks_the_matches_in_the_default_order(anonymous: APIClient) -> None:
    response = anonymous.get(URL, {"q": "verification", "cursor": "", "page_size": 3})
    first = [item["slug"] for item in response.json()["results"]]
    cursor = parse_qs(urlparse(response.json()["next"]).query)["cursor"][0]
    rest = found(anonymous, "verification", cursor=cursor, page_size="3")
    assert first + rest == ["a-venue", "b-summary", "c-title", "d-summary"]


# --- the rank, page by page --------------------------------------------------------------------

# Words the stemmers of both databases leave alone, none a stop word.
VOCABULARY = ["alpha", "bravo", "delta", "kilo", "lima", "oscar"]


def _words(rng: random.Random, most: int) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(0, most)))


def expected_order(measures: list[dict[str, str]], wanted: list[str], unwanted: list[str]) -> list:
    """The rank by its definition: a measure matches when every wanted word is in one of its
    fields and no unwanted word in any; it is in the first group when its title alone satisfies
    the query, else in the second when its venue alone does, else in the third; each group in
    slug order."""

    def satisfies(*texts: str) -> bool:
        words = {word for text in texts for word in text.split()}
        return all(word in words for word in wanted) and not any(w in words for w in unwanted)

    ranked = []
    for measure in measures:
        fields = measure["title"], measure["venue"], measure["summary"]
        if not satisfies(*fields):
            continue
        group = 0 if satisfies(fields[0]) else 1 if satisfies(fields[1]) else 2
        ranked.append((group, measure["slug"]))
    return [slug for _, slug in sorted(ranked)]


def walk(client: APIClient, q: str, size: int) -> list[str]:
    slugs: list[str] = []
    number = 1
    while True:
        response = client.get(URL, {"q": q, "page_size": size, "page": number})
        assert response.status_code == 200, response.content[:500]
        body = response.json()
        slugs += [item["slug"] for item in body["results"]]
        if body["next"] is None:
            return slugs
        number += 1


def test_every_page_of_a_ranked_search_follows_the_rank(anonymous: APIClient) -> None:
    # Random titles, venues and summaries over a few words, and random queries of one or two
    # words with and without an exclusion: walked page by page, with pages of several sizes so
    # that a page boundary falls inside and between the groups, the list is the rank's order.
    rng = random.Random(20261202)  # noqa: S311 - a fixed seed: the same data on every run
    measures = []
    for i in range(60):
        measure = {
            "slug": f"m-{i:02d}",
            "title": _words(rng, 3),
            "venue": _words(rng, 2),
            "summary": _words(rng, 6),
        }
        MeasureFactory(**measure)
        measures.append(measure)
    for _ in range(15):
        wanted = rng.sample(VOCABULARY, rng.randint(1, 2))
        unwanted = rng.sample([w for w in VOCABULARY if w not in wanted], rng.randint(0, 1))
        q = " ".join(wanted + [f"-{word}" for word in unwanted])
        expected = expected_order(measures, wanted, unwanted)
        for size in (3, 7, 50):
            caches["throttle"].clear()  # a walk is many requests; the anonymous rate is not tested
            assert walk(anonymous, q, size) == expected, (q, size)
        # The database's own ORDER BY of the rank (what an export or a full read uses) agrees.
        assert [m.slug for m in Measure.objects.search(q)] == expected, q


@pytest.mark.parametrize("n", [4, 40])
def test_a_page_deep_in_a_search_reads_each_group_once(
    anonymous: APIClient, django_assert_num_queries: Any, n: int
) -> None:
    # n measures with the word in the title, n in the venue, n in the summary: page 2 of 3 per
    # page starts in a group and may end in the next; the groups are read one query each, as
    # far as the page needs, whatever their size.
    for group, field in enumerate(("title", "venue", "summary")):
        for i in range(n):
            MeasureFactory(slug=f"{group}-{i:02d}", **{field: "verification"})
    # 1 data version, 2 COUNT, then the page's ids: the first group (n = 40 fills the page,
    # rows 4 to 6, from it; n = 4 ends in it after one row) and, for n = 4, the second; the
    # third is never read. Then the page's rows, categories, events, positions, named parties
    # and the successor map.
    with django_assert_num_queries(10 if n == 4 else 9):
        response = anonymous.get(URL, {"q": "verification", "page_size": 3, "page": 2})
    slugs = [item["slug"] for item in response.json()["results"]]
    assert slugs == (["0-03", "1-00", "1-01"] if n == 4 else ["0-03", "0-04", "0-05"])


# --- the index follows every write ------------------------------------------------------------


def test_a_raw_sql_update_is_found(anonymous: APIClient) -> None:
    MeasureFactory(slug="raw", title="Seabed treaty")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE proposals_measure SET title = %s WHERE slug = %s", ["Outer space accord", "raw"]
        )
    assert found(anonymous, "space") == ["raw"]
    assert found(anonymous, "seabed") == []


def test_a_bulk_update_is_found(anonymous: APIClient) -> None:
    for i in range(3):
        MeasureFactory(slug=f"bulk-{i}", venue="")
    measures = list(Measure.objects.all())
    for measure in measures:
        measure.venue = "Geneva talks"
    Measure.objects.bulk_update(measures, ["venue"])
    assert found(anonymous, "geneva") == ["bulk-0", "bulk-1", "bulk-2"]


def test_a_queryset_update_is_found(anonymous: APIClient) -> None:
    MeasureFactory(slug="updated", summary="Old words.")
    Measure.objects.filter(slug="updated").update(summary="Incident at sea.")
    assert found(anonymous, "incident") == ["updated"]
    assert found(anonymous, "old") == []


def test_a_bulk_create_is_found_and_a_delete_is_not(anonymous: APIClient) -> None:
    Measure.objects.bulk_create(
        [
            Measure(slug=f"new-{i}", title="Warhead ceiling", form="treaty", scope="bilateral")
            for i in range(2)
        ]
    )
    assert found(anonymous, "warheads") == ["new-0", "new-1"]
    Measure.objects.filter(slug="new-0").delete()
    assert found(anonymous, "warheads") == ["new-1"]


def test_a_history_revert_is_found(anonymous: APIClient) -> None:
    MeasureFactory(slug="reverted", title="Hotline agreement")
    measure = Measure.objects.get(slug="reverted")
    measure.title = "Renamed memorandum"
    measure.save()
    assert found(anonymous, "hotline") == []
    measure.history.earliest().instance.save()  # what the admin's "revert" does
    assert found(anonymous, "hotline") == ["reverted"]
    assert found(anonymous, "memorandum") == []


# --- bad input is never an error ----------------------------------------------------------------

GARBAGE = [
    '"',
    '""',
    '"""',
    '"unterminated phrase',
    "NEAR(",
    "NEAR(a b, 2)",
    "*",
    "launch*",
    ":",
    "title:",
    "title:launch",
    "{title venue}: launch",
    "^",
    "^launch",
    "(",
    ")",
    "()",
    "(launch OR",
    "AND",
    "OR",
    "NOT",
    "launch AND",
    "NOT launch",
    "-",
    "--",
    "- -",
    '-"',
    '"-',
    "or",
    "or or",
    "-or",
    "launch or",
    "+",
    "launch + missile",
    "'",
    "don't",
    "\\",
    "!launch",
    "launch & | ! <-> :*",
    "ü",
    "e\u0301",
    "\u0301",
    "日本語",
    "🙂",
    "½ ²",
    "\u200b",
    "‽",
    "%",
    "%s",
    "launch -",
    "a" * 200,
]


@pytest.mark.parametrize("q", GARBAGE)
def test_no_text_is_a_server_error(anonymous: APIClient, q: str) -> None:
    MeasureFactory(slug="launch", title="Launch notification")
    response = anonymous.get(URL, {"q": q})
    assert response.status_code == 200, response.content[:500]
    assert response.json()["count"] in (0, 1)


def test_random_text_is_never_a_server_error(anonymous: APIClient) -> None:
    MeasureFactory(title="Launch notification")
    alphabet = [*"\"-*:^()+'\\{}[]<>&|!~.,;?@#$%=_/ ", "NEAR", "OR", "or", "AND", "NOT"]
    alphabet += ["launch", "é", "\u0301", "日", "🙂", "\t"]
    rng = random.Random(12)  # noqa: S311 - a fixed seed: the same texts on every run
    for _ in range(150):
        q = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))[:200]
        if len(q.split()) > 20:
            continue
        response = anonymous.get(URL, {"q": q})
        assert response.status_code == 200, (q, response.content[:500])


# --- cost ---------------------------------------------------------------------------------------


def make_matching_measures(n: int) -> None:
    usa, rus = ActorFactory(code="USA"), ActorFactory(code="RUS")
    for i in range(n):
        measure = MeasureFactory(title=f"Launch notification {i}", categories=["hotline"])
        EventFactory(measure=measure, kind="signed", date=D(2000, 1, 1))
        EventFactory(measure=measure, kind="ratified", date=D(2000, 2, 1), actor=usa)
        PositionFactory(measure=measure, actor=rus, stance="opposes")
    MeasureFactory(title="Something else")


@pytest.mark.parametrize("n", [3, 12])
def test_a_search_runs_the_same_queries_at_any_size(
    anonymous: APIClient, django_assert_num_queries: Any, n: int
) -> None:
    make_matching_measures(n)
    # 1 data version (ETag), 2 COUNT of the matches, 3 the page's ids in the first group of the
    # rank (every match has the word in its title: the count says the page ends there), 4 the
    # page of matches (parent slug as a subquery), 5 their categories, 6 their events, 7 their
    # positions, 8 their named parties, 9 the actors' successor map.
    with django_assert_num_queries(9):
        response = anonymous.get(URL, {"q": "notification"})
    assert response.status_code == 200
    assert response.json()["count"] == n


@pytest.mark.parametrize("n", [3, 12])
def test_a_search_with_an_exclusion_runs_the_same_queries(
    anonymous: APIClient, django_assert_num_queries: Any, n: int
) -> None:
    make_matching_measures(n)
    # As above; on SQLite the exclusion is a subquery of the same queries.
    with django_assert_num_queries(9):
        response = anonymous.get(URL, {"q": "-else"})
    assert response.json()["count"] == n
