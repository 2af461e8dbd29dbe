"""Flow 6: a curator imports a file of recorded UN votes from the positions list: a file with a
mistake is refused whole with the line named, the corrected file is imported and reported.

(The positions list's "Import recorded UN votes" is the admin's one import page; the dataset
import is an API operation.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from proposals.models import Position
from tests.factories import ActorFactory, MeasureFactory

from .admin_pages import click_through, signed_in, type_into
from .browser import Tab
from .conftest import OpenTab

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "resolution,date,country,vote\n"
GOOD = (
    "A/RES/79/901,2024-12-02,USA,yes\n"
    "A/RES/79/901,2024-12-02,Russian Federation,no\n"
    "A/RES/79/901,2024-12-02,CHN,abstain\n"
)
MISTAKE = GOOD.replace("CHN,abstain", "CHN,maybe")


def upload(tab: Tab, path: Path, *, measure: str) -> None:
    tab.find("#id_file").send_keys(str(path))
    type_into(tab, "#id_measure", measure)
    click_through(tab, "input[type=submit][value=Import]")


def test_a_curator_imports_votes_and_reads_the_report(
    open_tab: OpenTab, admin_user: User, categories: None, tmp_path: Path
) -> None:
    ActorFactory(code="USA", name="United States")
    ActorFactory(code="RUS", name="Russian Federation")
    ActorFactory(code="CHN", name="China")
    MeasureFactory(slug="launch-notice", title="Launch notification regime")
    wrong, right = tmp_path / "votes-with-a-mistake.csv", tmp_path / "votes.csv"
    wrong.write_text(HEADER + MISTAKE)
    right.write_text(HEADER + GOOD)
    tab = open_tab("import")
    signed_in(tab, admin_user)
    tab.open("/admin/proposals/position/")
    tab.find("a[href$='/import-votes/']").click()
    tab.wait_css("#id_file")

    upload(tab, wrong, measure="launch-notice")

    refused = tab.text(".errornote")
    assert refused.startswith("Nothing was imported.")
    assert "line 4: vote 'maybe' is not one of Y, N, A, X" in refused
    assert Position.objects.count() == 0
    tab.shoot("1-refused")

    upload(tab, right, measure="launch-notice")

    assert tab.find_all(".errornote") == []
    report = [item.text for item in tab.find_all("#content ul li")]
    assert "3 rows read, 0 of them non-voting (no position)" in report
    assert "positions: 3 created, 0 updated, 0 unchanged" in report
    assert dict(Position.objects.values_list("actor__code", "stance")) == {
        "USA": "endorses",
        "RUS": "opposes",
        "CHN": "neutral",
    }
    tab.shoot("2-imported")
