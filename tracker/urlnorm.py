"""Source URLs: stored exactly as cited, compared by a normalized key.

A source's ``url`` is what the curator cited, surrounding whitespace aside: it is what the API
shows and what the refresh fetches, byte for byte. Rewriting it would fetch another address
than the one cited (``index.pl?ABM_treaty`` and ``index.pl?ABM_treaty=`` are different requests
to a CGI script). :func:`url_match_key` is used only to tell whether two spellings are the same
source; it is stored next to the URL (``Source.url_key``) and is unique.

Two URLs are the same source when they differ only in

- the case of the scheme or of the host name, or a trailing dot after the host name;
- a port that is the scheme's default (``:80`` for http, ``:443`` for https);
- an empty path and ``/`` (``https://un.org`` and ``https://un.org/``);
- the fragment (``#part``), which is never sent to the server;
- percent-escapes of unreserved characters (``%7E`` and ``~``, ``%41`` and ``A``) and the case
  of other escapes (``%2f`` and ``%2F``); non-ASCII characters and their UTF-8 escapes;
- the tracking parameters in :data:`TRACKING_PARAMETERS`, wherever they are in the query.

Everything else keeps two URLs apart, on purpose, because a server may answer them differently:
the case of the path, a trailing slash after a non-empty path (``/inf`` and ``/inf/``), the
order of query parameters, and a parameter with and without ``=`` (``?ABM_treaty`` and
``?ABM_treaty=``). URL libraries (courlan, w3lib) parse and re-encode the query, which loses
exactly that last difference, so this small module does it by hand.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

TRACKING_PARAMETERS = frozenset(
    {"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "fbclid", "gclid"}
)
DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 section 2.3: percent-escapes of these may be decoded without changing the URL.
UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE_OR_NON_ASCII = re.compile(r"%[0-9A-Fa-f]{2}|[^\x00-\x7f]")


class InvalidSourceURL(ValueError):
    """The text is not an absolute http(s) URL."""


def validate_source_url(raw: str) -> str:
    """The URL as cited, with surrounding whitespace removed; raises unless it is http(s).

    Nothing else is changed: this is the text to store and to fetch.
    """
    url = raw.strip()
    if not url:
        raise InvalidSourceURL("Enter the URL of the source.")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidSourceURL("The URL contains spaces or control characters; escape them.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidSourceURL(
            "The URL cannot be read (a bracketed IPv6 address, or a port that is not a number "
            "between 0 and 65535)."
        ) from None
    if parts.scheme.lower() not in DEFAULT_PORTS:
        raise InvalidSourceURL("Only http and https URLs can be sources.")
    if parts.username is not None or parts.password is not None:
        raise InvalidSourceURL("URLs with a user name or password cannot be sources.")
    if not parts.hostname:
        raise InvalidSourceURL("The URL has no host name.")
    if port == 0:
        raise InvalidSourceURL("The URL's port must be between 1 and 65535.")
    return url


def url_match_key(raw: str) -> str:
    """The key under which spellings of one address are the same source (see the module doc)."""
    parts = urlsplit(validate_source_url(raw))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    elif not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidSourceURL("The host name is not a valid domain name.") from None
    netloc = host if parts.port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{parts.port}"
    query = "&".join(
        _normalized_escapes(pair)
        for pair in parts.query.split("&")
        if pair.split("=", 1)[0].lower() not in TRACKING_PARAMETERS
    )
    return urlunsplit((scheme, netloc, _normalized_escapes(parts.path) or "/", query, ""))


def _normalized_escapes(text: str) -> str:
    return _ESCAPE_OR_NON_ASCII.sub(_normalized_escape, text)


def _normalized_escape(match: re.Match[str]) -> str:
    text = match.group(0)
    if not text.startswith("%"):
        return quote(text, safe="")  # a non-ASCII character, as its UTF-8 escapes
    char = chr(int(text[1:], 16))
    return char if char in UNRESERVED else text.upper()
