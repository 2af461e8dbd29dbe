"""Metadata extraction from saved pages: fields, encodings, and what the change hash ignores."""

from __future__ import annotations

import hashlib
import socket
from datetime import date
from pathlib import Path

import pytest

from tracker.metadata import EXTRACTOR_VERSION, extract, normalise_text, simhash_distance

PAGES = Path(__file__).parent / "pages"
URL = "https://analysis.example.org/2025/03/launch-notification-pact?utm_source=feed"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def simple_article(title: str, paragraphs: list[str], head: str = "", lang: str = "en") -> str:
    body = "\n".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head>{head}<title>{title}</title></head>'
        f"<body><nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}</article>"
        "<footer>Contact us</footer></body></html>"
    )


GENEVA_PARAGRAPHS = [
    "The Conference on Disarmament in Genève met for its first session of the year, "
    "and delegations again failed to agree on a programme of work.",
    "Observers noted that the agenda, unchanged for decades, still lists a fissile "
    "material treaty, negative security assurances and the prevention of an arms race in "
    "outer space.",
    "Several délégations called for informal talks to continue between sessions so that "
    "technical work is not lost while the political deadlock persists.",
]


def test_it_extracts_the_article_fields() -> None:
    metadata = extract(page("article.html"), url=URL, content_type="text/html; charset=utf-8")

    assert metadata.title == "A launch-notification pact for the Western Pacific is within reach"
    assert metadata.published_on == date(2025, 3, 14)  # published, not the 2 April update
    assert metadata.canonical_url == (
        "https://analysis.example.org/2025/03/launch-notification-pact"
    )
    assert metadata.language == "en-GB"
    assert metadata.main_text.startswith("When a ballistic missile leaves its launcher")
    assert metadata.main_text.endswith("That is a rare bargain, and it is within reach.")
    assert metadata.text_hash == hashlib.sha256(metadata.main_text.encode()).hexdigest()
    assert len(metadata.simhash) == 16
    assert metadata.extractor_version == EXTRACTOR_VERSION
    assert EXTRACTOR_VERSION.startswith("trafilatura-")


@pytest.mark.parametrize(
    "boilerplate",
    [
        "Advertisement",
        "Secure satellite communications",  # ad copy
        "Most read this week",  # sidebar
        "Drone swarms and the law of armed conflict",
        "We use cookies",  # consent banner
        "All rights reserved",  # footer
        "Support our work",  # navigation
        "Get our weekly briefing",  # newsletter box
    ],
)
def test_it_leaves_boilerplate_out_of_the_main_text(boilerplate: str) -> None:
    metadata = extract(page("article.html"), url=URL)

    assert boilerplate not in metadata.main_text


def test_it_keeps_the_hash_when_only_ads_navigation_and_footer_change() -> None:
    original = extract(page("article.html"), url=URL)
    other_chrome = extract(page("article_other_chrome.html"), url=URL)

    assert page("article.html") != page("article_other_chrome.html")
    assert other_chrome.raw_hash != original.raw_hash
    assert other_chrome.text_hash == original.text_hash
    assert other_chrome.simhash == original.simhash


def test_it_changes_the_hash_when_the_article_changes() -> None:
    original = extract(page("article.html"), url=URL)
    revised = extract(page("article_revised.html"), url=URL)

    assert revised.text_hash != original.text_hash
    assert "A fourth objection" in revised.main_text
    # A revision of two paragraphs is a small change, not a different document.
    assert 0 < simhash_distance(original.simhash, revised.simhash) < 16


@pytest.mark.parametrize(
    ("encoding", "content_type", "head"),
    [
        ("cp1252", "text/html", '<meta charset="windows-1252">'),
        (
            "iso-8859-1",
            "text/html",
            '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">',
        ),
        ("iso-8859-15", "text/html; charset=ISO-8859-15", ""),  # header only
        ("utf-8", "text/html", ""),  # no charset anywhere: not ISO-8859-1
        ("utf-8", "text/html", '<meta charset="utf-8">'),
        ("utf-16", "text/html", ""),  # byte-order mark
    ],
)
def test_it_decodes_with_the_declared_charset(encoding: str, content_type: str, head: str) -> None:
    html = simple_article("Genève talks stall again", GENEVA_PARAGRAPHS, head=head)

    metadata = extract(html.encode(encoding), url=URL, content_type=content_type)

    assert metadata.title == "Genève talks stall again"
    assert "Conference on Disarmament in Genève" in metadata.main_text
    assert "délégations" in metadata.main_text


RUSSIAN_PARAGRAPHS = [
    "Договор по ликвидации ракет средней и меньшей дальности был подписан в Вашингтоне. "
    "Он запретил целый класс ракет наземного базирования.",
    "Проверка выполнения договора опиралась на инспекции на местах и обмен данными, "
    "которые продолжались более десяти лет.",
]


@pytest.mark.parametrize(
    ("encoding", "content_type", "head"),
    [
        ("koi8-r", "text/html", '<meta charset="koi8-r">'),
        ("windows-1251", "text/html; charset=windows-1251", ""),
        # The transport's charset outranks <meta>, as in browsers.
        ("windows-1251", "text/html; charset=windows-1251", '<meta charset="koi8-r">'),
    ],
)
def test_it_uses_the_declared_charset_rather_than_a_guess(
    encoding: str, content_type: str, head: str
) -> None:
    html = simple_article("Договор", RUSSIAN_PARAGRAPHS, head=head, lang="ru")

    metadata = extract(html.encode(encoding), url=URL, content_type=content_type)

    assert metadata.title == "Договор"
    assert "инспекции на местах" in metadata.main_text


def test_it_reads_windows_1252_punctuation_under_a_latin_1_label() -> None:
    """Pages labelled ISO-8859-1 are written in windows-1252, as browsers assume."""
    dashed = [GENEVA_PARAGRAPHS[0] + " The delegates \u2013 all of them \u2013 went home."]
    html = simple_article("Talks", dashed + GENEVA_PARAGRAPHS[1:], head='<meta charset="latin1">')

    metadata = extract(html.encode("cp1252"), url=URL)

    assert "The delegates \u2013 all of them \u2013 went home." in metadata.main_text


def test_it_does_not_date_a_page_by_the_events_it_describes() -> None:
    html = simple_article(
        "Notes on the INF Treaty",
        [
            "The INF Treaty was signed on 8 December 1987 and entered into force on 1 June 1988. "
            + "It eliminated a whole class of ground-launched missiles. " * 10,
            "The United States withdrew on 2 August 2019. "
            + "Its verification regime relied on on-site inspections. " * 10,
        ],
    )

    metadata = extract(html.encode(), url="https://notes.example.org/inf")

    assert metadata.published_on is None


@pytest.mark.parametrize(
    ("head", "lang", "expected"),
    [
        ("", "fr", "fr"),
        ("", "EN-us", "en-US"),
        ("", "zh-Hant-TW", "zh-Hant"),
        ('<meta property="og:locale" content="de_DE">', "", "de-DE"),
        ('<meta http-equiv="content-language" content="es">', "", "es"),
        ("", "not a language", ""),
    ],
)
def test_it_reads_the_language(head: str, lang: str, expected: str) -> None:
    html = simple_article("Title", GENEVA_PARAGRAPHS, head=head, lang=lang)

    assert extract(html.encode(), url=URL).language == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            '<link rel="canonical" href="/2025/03/pact">',
            "https://analysis.example.org/2025/03/pact",
        ),
        ('<meta property="og:url" content="https://example.org/a">', "https://example.org/a"),
        ('<link rel="canonical" href="javascript:void(0)">', ""),
        ("", ""),  # not the URL it was fetched from
    ],
)
def test_it_reads_only_a_declared_canonical_url(head: str, expected: str) -> None:
    html = simple_article("Title", GENEVA_PARAGRAPHS, head=head)

    assert extract(html.encode(), url=URL).canonical_url == expected


@pytest.mark.parametrize("content_type", ["application/pdf", "text/plain; charset=utf-8"])
def test_it_hashes_other_documents_by_their_bytes(content_type: str) -> None:
    body = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"

    metadata = extract(body, url="https://treaties.example.net/text.pdf", content_type=content_type)

    assert metadata.text_hash == metadata.raw_hash == hashlib.sha256(body).hexdigest()
    assert (metadata.title, metadata.main_text, metadata.published_on) == ("", "", None)


def test_it_sniffs_html_when_the_content_type_is_missing() -> None:
    html = simple_article("Genève talks stall again", GENEVA_PARAGRAPHS)

    assert extract(html.encode(), url=URL, content_type="").title == "Genève talks stall again"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n",
        b"<html><body></body></html>",
        b"<html><head><title>Loading</title><script>render()</script></head><body></body></html>",
    ],
)
def test_it_gives_an_empty_hash_for_a_page_without_text(body: bytes) -> None:
    metadata = extract(body, url=URL)

    assert (metadata.main_text, metadata.text_hash, metadata.simhash) == ("", "", "")


@pytest.mark.parametrize(
    "body", [b"\x00\xff\xfe\x00garbage", b"<<<>>>", b"<?xml version='1.0'?>", b"\xef\xbb\xbf"]
)
def test_it_survives_garbage(body: bytes) -> None:
    assert extract(body, url=URL).raw_hash == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("  two\n\n  paragraphs\t here ", "two paragraphs here"),
        ("non\u00a0breaking", "non breaking"),
        ("zero\u200bwidth\u00adsoft\ufeff", "zerowidthsoft"),
        ("ﬁve ligature", "five ligature"),
    ],
)
def test_it_normalises_text_before_hashing(raw: str, normalised: str) -> None:
    assert normalise_text(raw) == normalised


def test_it_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("metadata extraction tried to use the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)

    assert extract(page("article.html"), url=URL).title
