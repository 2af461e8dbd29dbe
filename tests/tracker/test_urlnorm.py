"""tracker.urlnorm: what is stored (the URL as cited) and which spellings are one address."""

from __future__ import annotations

import pytest

from tracker.urlnorm import InvalidSourceURL, url_match_key, validate_source_url


@pytest.mark.parametrize(
    "url",
    [
        "http://www.nti.org/db/index.pl?ABM_treaty",
        "https://example.org/%7Euser/a%2fb?q=%7e#Top",
        "HTTPS://Example.ORG:443/inf/",
        "https://example.org/inf?utm_source=feed&id=3",
        "https://bücher.example/ü?q=é",
    ],
)
def test_a_url_is_stored_exactly_as_cited(url: str) -> None:
    assert validate_source_url(f"  {url}\n") == url


@pytest.mark.parametrize(
    ("cited", "other"),
    [
        ("https://example.org/~user/", "https://example.org/%7Euser/"),
        ("https://example.org/%7euser/", "https://example.org/~user/"),
        ("https://example.org/a%2fb", "https://example.org/a%2Fb"),
        ("https://example.org/inf#article-2", "https://example.org/inf"),
        ("https://example.org:443/inf", "https://example.org/inf"),
        ("http://example.org:80/inf", "http://example.org/inf"),
        ("https://WWW.Example.ORG/inf", "https://www.example.org/inf"),
        ("HTTPS://example.org/inf", "https://example.org/inf"),
        ("https://example.org./inf", "https://example.org/inf"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org/inf?utm_source=x&id=3&fbclid=y", "https://example.org/inf?id=3"),
        ("https://bücher.example/ü", "https://xn--bcher-kva.example/%C3%BC"),
        ("http://[2001:DB8::1]:80/a", "http://[2001:db8::1]/a"),
    ],
)
def test_spellings_of_one_address_share_a_key(cited: str, other: str) -> None:
    assert url_match_key(cited) == url_match_key(other)


@pytest.mark.parametrize(
    ("cited", "other"),
    [
        ("http://example.org/index.pl?ABM_treaty", "http://example.org/index.pl?ABM_treaty="),
        ("https://example.org/inf", "https://example.org/inf/"),
        ("https://example.org/INF", "https://example.org/inf"),
        ("https://example.org/a?b=1&c=2", "https://example.org/a?c=2&b=1"),
        ("http://example.org/inf", "https://example.org/inf"),
        ("https://example.org:8443/inf", "https://example.org/inf"),
        ("http://example.org:443/inf", "http://example.org/inf"),
        ("https://example.org/a%2Fb", "https://example.org/a/b"),
        ("https://www.example.org/inf", "https://example.org/inf"),
    ],
)
def test_different_addresses_have_different_keys(cited: str, other: str) -> None:
    assert url_match_key(cited) != url_match_key(other)


def test_the_key_keeps_a_query_without_equals_sign() -> None:
    url = "http://www.nti.org/db/index.pl?ABM_treaty"
    assert url_match_key(url) == url


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter the URL"),
        ("   ", "Enter the URL"),
        ("www.un.org/inf", "Only http and https"),
        ("ftp://example.org/file", "Only http and https"),
        ("javascript:alert(1)", "Only http and https"),
        ("https://user:secret@example.org/", "user name or password"),
        ("https://@example.org/", "user name or password"),
        ("https:///inf", "no host name"),
        ("http://[::1/inf", "cannot be read"),
        ("https://example.org:99999/", "cannot be read"),
        ("https://example.org:0/", "between 1 and 65535"),
        ("https://example.org/a b", "spaces or control characters"),
        ("https://example.org/a\tb", "spaces or control characters"),
    ],
)
def test_it_refuses_what_is_not_an_http_url(text: str, message: str) -> None:
    with pytest.raises(InvalidSourceURL, match=message):
        validate_source_url(text)
    with pytest.raises(InvalidSourceURL, match=message):
        url_match_key(text)
