"""URL normalization: the one rule that decides whether two typed URLs are the same source.

Lower-case scheme and host, drop default ports, the fragment and common tracking parameters,
keep path and the remaining query in order. Deliberately conservative: two URLs that differ in a
way a server could care about (path case, a real query parameter) stay different sources.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMETERS = frozenset(
    {"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "fbclid", "gclid"}
)
DEFAULT_PORTS = {"http": 80, "https": 443}


class InvalidSourceURL(ValueError):
    """The text is not an absolute http(s) URL."""


def normalize_url(raw: str) -> str:
    text = raw.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidSourceURL("Only http and https URLs can be sources.")
    if not parts.hostname:
        raise InvalidSourceURL("The URL has no host name.")
    if parts.username or parts.password:
        raise InvalidSourceURL("URLs with a user name or password cannot be sources.")
    host = parts.hostname.lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        raise InvalidSourceURL("The URL's port is not a number between 0 and 65535.") from None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = urlencode(
        [
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if key.lower() not in TRACKING_PARAMETERS
        ]
    )
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))
