"""What a curator does on the admin's pages, one small function per gesture.

The flows call these instead of reaching for element ids themselves, so that when a page's
layout changes (citations edited in place on the measure's page, a new field) only the
function for that gesture changes, not every flow that makes it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from .browser import Tab, sign_in


def log_in(tab: Tab, *, username: str, password: str) -> None:
    tab.open("/admin/login/")
    tab.find("#id_username").send_keys(username)
    tab.find("#id_password").send_keys(password)
    click_through(tab, "#login-form [type=submit]")


def signed_in(tab: Tab, user: User) -> None:
    """A session for ``user`` without the login form (the login flow tests the form)."""
    sign_in(tab.driver, tab.origin, user)


def type_into(tab: Tab, css: str, text: str) -> None:
    field = tab.find(css)
    field.clear()
    field.send_keys(text)


def choose(tab: Tab, css: str, label: str) -> None:
    """Pick the option shown as ``label`` in a plain <select>."""
    from selenium.webdriver.support.ui import Select

    Select(tab.find(css)).select_by_visible_text(label)


def autocomplete(tab: Tab, select_id: str, typed: str, label: str) -> None:
    """Pick ``label`` in the autocomplete (select2) box of the <select> ``select_id``, after
    typing ``typed`` into its search field."""
    tab.find(f"#{select_id} + .select2 .select2-selection").click()
    search = tab.wait_css(".select2-container--open .select2-search__field")
    search.send_keys(typed)
    option = tab.wait(
        lambda d: [
            element
            for element in tab.find_all(".select2-results__option")
            if element.text.strip() == label
        ]
    )[0]
    option.click()
    tab.wait(
        lambda d: (
            tab.find(f"#{select_id} + .select2 .select2-selection__rendered").text.strip() == label
        )
    )


def click_through(tab: Tab, css: str) -> None:
    """Click the button or link ``css`` and wait for the page that answers: the old page gone,
    the new one loaded (a page that looks alike, say with a message, is not mistaken for the
    answer)."""
    from selenium.webdriver.support.expected_conditions import staleness_of

    page = tab.find("html")
    tab.find(css).click()
    tab.wait(staleness_of(page))
    tab.wait(lambda d: d.execute_script("return document.readyState") == "complete")


def save_and_continue(tab: Tab) -> None:
    click_through(tab, "input[name=_continue]")


def save(tab: Tab) -> None:
    click_through(tab, "input[name=_save]")


def success_message(tab: Tab) -> str:
    return tab.text(".messagelist .success")


def readonly(tab: Tab, field: str) -> str:
    """The text of a read-only field of a change form, e.g. a measure's derived status."""
    return tab.text(f".field-{field} .readonly")


# --- the measure's page -------------------------------------------------------------------------


def fill_measure(tab: Tab, *, title: str, summary: str, form: str, scope: str) -> None:
    type_into(tab, "#id_title", title)  # the slug is filled in from the title as it is typed
    type_into(tab, "#id_summary", summary)
    choose(tab, "#id_form", form)
    choose(tab, "#id_scope", scope)


def choose_categories(tab: Tab, *labels: str) -> None:
    """Move each category from "available" to "chosen" in the two-box selector."""
    from selenium.webdriver.support.ui import Select

    available = Select(tab.find("#id_categories_from"))
    for label in labels:
        available.select_by_visible_text(label)
    tab.find("#id_categories_add").click()
    tab.wait(lambda d: len(Select(tab.find("#id_categories_to")).options) == len(labels))


def _add_inline_row(tab: Tab, group: str) -> str:
    """Add an empty row to the inline ``group`` (``events``, ``positions``); return its prefix."""
    rows = len(tab.find_all(f"#{group}-group .dynamic-{group}"))
    tab.find(f"#{group}-group .add-row a").click()
    tab.wait(lambda d: len(tab.find_all(f"#{group}-group .dynamic-{group}")) == rows + 1)
    total = tab.find(f"#id_{group}-TOTAL_FORMS").get_attribute("value")
    return f"{group}-{int(total) - 1}"


def add_event(tab: Tab, *, date: str, kind: str, precision: str = "Day", actor: Any = None) -> str:
    """Add an event row on the measure's page; ``actor`` None: the measure as a whole."""
    prefix = _add_inline_row(tab, "events")
    type_into(tab, f"#id_{prefix}-date", date)
    choose(tab, f"#id_{prefix}-date_precision", precision)
    choose(tab, f"#id_{prefix}-kind", kind)
    if actor is not None:
        autocomplete(tab, f"id_{prefix}-actor", actor.code, str(actor))
    return prefix


def add_position(tab: Tab, *, date: str, actor: Any, stance: str, quote: str = "") -> str:
    """Add a position row on the measure's page."""
    prefix = _add_inline_row(tab, "positions")
    type_into(tab, f"#id_{prefix}-date", date)
    autocomplete(tab, f"id_{prefix}-actor", actor.code, str(actor))
    choose(tab, f"#id_{prefix}-stance", stance)
    if quote:
        type_into(tab, f"#id_{prefix}-quote", quote)
    return prefix


def cite_by_url(tab: Tab, prefix: str, *, url: str, locator: str = "", quote: str = "") -> None:
    """Cite a source by its address in the row ``prefix`` (``events-0``) of the measure's page:
    a source already known under any spelling of ``url`` is reused, else one is made, when the
    page is saved."""
    type_into(tab, f"#id_{prefix}-cite_0", url)
    if locator:
        type_into(tab, f"#id_{prefix}-cite_1", locator)
    if quote:
        type_into(tab, f"#id_{prefix}-cite_2", quote)


def citations_of_row(tab: Tab, prefix: str) -> list[str]:
    """The citations a saved row shows (``https://… · p. 3 [Not checked yet]``), each with its
    box to tick for removal."""
    return [str(label.text).strip() for label in tab.find_all(f"#{prefix} .field-uncite label")]


def status_shown(tab: Tab) -> str:
    """The measure's status as its page derives it today (a badge, or "possibly … or …")."""
    return readonly(tab, "status_today")


def sources_cited(tab: Tab) -> list[list[str]]:
    """The rows of the measure page's "Sources cited" table: health, source, host, checked."""
    return table_rows(tab, ".field-source_health table")


def open_own_page(tab: Tab, prefix: str) -> None:
    """Open the own page of the fact in row ``prefix`` (saving it comes back to the measure)."""
    click_through(tab, f"#{prefix} .field-own_page a")


def table_rows(tab: Tab, css: str) -> list[list[str]]:
    """The cells' text of each body row of the table ``css``."""
    return [
        [str(cell.text).strip() for cell in row.find_elements("css selector", "td")]
        for row in tab.find_all(f"{css} tbody tr")
    ]


def fetch_text(tab: Tab, url: str) -> str:
    """What the page's own ``fetch`` of ``url`` answers, with the curator's session: how a
    picture on the page is read back as the browser got it."""
    return str(
        tab.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {credentials: 'same-origin'})"
            "  .then((r) => r.ok ? r.text() : 'HTTP ' + r.status).then(done);",
            url,
        )
    )


# --- lists --------------------------------------------------------------------------------------


def run_list_action(tab: Tab, *, rows: list[str], action: str) -> None:
    """Tick the rows whose first column reads as in ``rows`` and run ``action`` on them."""
    ticked = []
    for row in tab.find_all("#result_list tbody tr"):
        # As read, whatever the column's width wraps.
        label = " ".join(row.find_element("css selector", "th").text.split())
        if label in rows:
            box = row.find_element("css selector", "input.action-select")
            box.click()
            tab.wait(lambda d, box=box: box.is_selected())
            ticked.append(label)
    assert sorted(ticked) == sorted(rows), f"rows not in the list: {set(rows) - set(ticked)}"
    choose(tab, "select[name=action]", action)
    click_through(tab, "button[name=index]")


# --- a source's page ----------------------------------------------------------------------------


def check_now(tab: Tab) -> None:
    """The "Check now" button at the top of a source's page: queues a check, comes back."""
    click_through(tab, "form.check-now button[type=submit]")


def health_shown(tab: Tab) -> str:
    return readonly(tab, "health_status")


def check_history(tab: Tab) -> list[list[str]]:
    """The source page's last checks, newest first: when, outcome, HTTP status, took, error."""
    return table_rows(tab, ".field-recent_checks table")
