"""Flow 7: two curators edit the same measure at once; the second to save is told the measure
changed under them, in the admin's own page, and the first one's edit stands."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from proposals.models import Measure
from tests.factories import MeasureFactory

from .admin_pages import save, signed_in, type_into
from .conftest import OpenTab

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_second_of_two_curators_to_save_is_told_and_overwrites_nothing(
    open_tab: OpenTab, admin_user: User, categories: None
) -> None:
    other = User.objects.create_superuser("second-curator", "", "password")
    measure = MeasureFactory(slug="hotline", title="Direct communication link")
    first, second = open_tab("concurrent-edit"), open_tab("concurrent-edit")
    signed_in(first, admin_user)
    signed_in(second, other)
    for tab in (first, second):
        tab.open(f"/admin/proposals/measure/{measure.pk}/change/")

    type_into(first, "#id_title", "Direct communication link (Washington-Moscow)")
    save(first)
    assert "was changed successfully" in first.text(".messagelist .success")
    type_into(second, "#id_title", "Direct communication link (hotline)")
    save(second)

    told = second.find_all(".errornote, .messagelist .error, .messagelist .warning")
    assert told, "the second curator saved over the first one's edit without a word"
    assert told[0].text.strip()
    assert second.find_all("#site-name")  # the admin's page, not an error page
    assert "Traceback" not in second.driver.page_source
    second.shoot("1-second-save-told")
    stored = Measure.objects.get(pk=measure.pk)
    assert stored.title == "Direct communication link (Washington-Moscow)"
