"""Fetched bytes in, page metadata out: pure functions, no I/O, no Django.

Contract
--------
``extract(body, url=..., content_type=...)`` never fetches anything and never raises for bad
content: unparsable or empty input gives empty fields.

* For HTML (``text/html``, ``application/xhtml+xml``): title, publication date, declared
  canonical URL, language, and the article's main text as trafilatura isolates it.
* ``main_text`` is normalised (NFKC, zero-width characters removed, whitespace collapsed) and
  ``text_hash`` is the sha256 of it. Boilerplate (navigation, ads, sidebars, footers, cookie
  banners, reader comments) is not part of the main text, so editing it leaves the hash alone,
  while any edit to the article's paragraphs changes it. ``text_hash`` is ``""`` when no text
  was found, so "no text" never compares equal to a real page.
* For other content types (PDF, plain text…) only the hashes are filled: ``text_hash`` is the
  sha256 of the raw bytes, so a changed document is still noticed.
* ``simhash`` is trafilatura's 64-bit Charikar fingerprint of the main text as 16 hex digits;
  ``simhash_distance`` between two of them tells a typo fix from a rewrite.
* ``extractor_version`` names everything the hash depends on. Upgrading trafilatura or changing
  the normalisation here changes extraction output, so a differing version means "re-baseline",
  not "the page changed".

The ``url`` argument only resolves relative links and feeds the date heuristics; it is never
requested. That matters: handing a URL to trafilatura or htmldate makes them download it
themselves, outside the fetcher's address checks.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html
import trafilatura
from htmldate import find_date
from trafilatura.deduplication import Simhash
from trafilatura.metadata import examine_meta, extract_meta_json, extract_title

# Bump NORMALISATION when normalise_text() or the extraction call changes, for the same reason
# the library version is part of the string: old and new hashes must not be compared.
# 2: the main text is extracted without trafilatura's metadata pass (title and date are read
# separately, see extract()).
# 3: trafilatura's own extraction only, without its fallback extractors (see extract()).
NORMALISATION = 3
EXTRACTOR_VERSION = f"trafilatura-{trafilatura.__version__}+n{NORMALISATION}"

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# The HTML standard looks for <meta charset> in the first 1024 bytes; pages in the wild put it
# later, behind long comment banners, so look a little further.
META_PRESCAN_BYTES = 4096
# An "iso-8859-1" or "ascii" label on the web means windows-1252 (WHATWG Encoding), and Python's
# latin-1 would turn curly quotes and dashes into control characters.
WINDOWS_1252_ALIASES = frozenset({"latin_1", "iso8859-1", "ascii", "cp819", "iso8859_1"})
# Metadata dates only. htmldate's "extensive" search also reads dates out of the text, and an
# arms-control article is full of them: a piece mentioning a treaty's 1987 signing or a 2019
# withdrawal would be dated to that event instead of to its publication.
DATE_PARAMS = {"original_date": True, "extensive_search": False}

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
# language[-script|-region], then any further subtags, which are dropped.
_LANGUAGE_TAG = re.compile(
    r"([a-z]{2,3})(?:[-_]([a-z]{2}|[0-9]{3}|[a-z]{4}))?(?:[-_][a-z0-9]{1,8})*", re.IGNORECASE
)


@dataclass(frozen=True)
class PageMetadata:
    title: str = ""
    published_on: date | None = None
    canonical_url: str = ""
    language: str = ""
    main_text: str = ""
    text_hash: str = ""
    raw_hash: str = ""  # sha256 of the bytes as received, for forensics
    extractor_version: str = EXTRACTOR_VERSION

    @functools.cached_property
    def simhash(self) -> str:
        # Computed on first use: it costs about as much as extracting the text, and the
        # refresh pipeline compares hashes, not fingerprints.
        return f"{Simhash(self.main_text).hash:016x}" if self.main_text else ""


def extract(body: bytes, *, url: str, content_type: str = "text/html") -> PageMetadata:
    """Metadata of a fetched response body; see the module docstring."""
    raw_hash = hashlib.sha256(body).hexdigest()
    media_type, charset = _parse_content_type(content_type)
    if not _is_html(media_type, body):
        return PageMetadata(text_hash=raw_hash if body else "", raw_hash=raw_hash)

    tree = _parse_html(body, charset)
    if tree is None:
        return PageMetadata(raw_hash=raw_hash)
    canonical_url = _canonical_url(tree, url)
    language = _language(tree)
    title, metadata_url = _title_and_url(tree)
    # The text alone: trafilatura's full metadata pass (authors, licence, categories, site
    # name) would cost as much again, for fields nothing here keeps. It works on a copy.
    # ``fast``: trafilatura's own algorithm without the readability and jusText fallbacks it
    # would otherwise run on every page to compare with (a third of the extraction's time).
    # What it gives up is recall on pages whose article trafilatura's own rules miss, where a
    # fallback may find more text; the hash only has to be the same for the same article from
    # one check to the next, which either mode gives.
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        fast=True,
        with_metadata=False,
        include_comments=False,  # Readers' comments are not the source's content.
        include_tables=True,
    )
    text = document.text or "" if document is not None and not isinstance(document, dict) else ""
    # Last, as htmldate may prune the tree it is given. The URL feeds its date-in-URL rule,
    # the one trafilatura would pass: the page's own (og:url, canonical), else where it was.
    published = find_date(
        tree,
        url=metadata_url or canonical_url or url,
        original_date=DATE_PARAMS["original_date"],
        extensive_search=DATE_PARAMS["extensive_search"],
        max_date=date.today().isoformat(),
    )
    if not title:
        title = tree.findtext(".//title") or ""
    main_text = normalise_text(text)
    return PageMetadata(
        title=" ".join(title.split()),
        published_on=_date(published or ""),
        canonical_url=canonical_url,
        language=language,
        main_text=main_text,
        text_hash=hashlib.sha256(main_text.encode()).hexdigest() if main_text else "",
        raw_hash=raw_hash,
    )


def _title_and_url(tree: lxml.html.HtmlElement) -> tuple[str, str]:
    """The title as trafilatura's metadata pass finds it, and the URL the page declares.

    <meta> tags (og:title …), then JSON-LD, then the <title>/<h1> heuristics: the same steps
    and order as ``trafilatura.extract_metadata``, without its other fields.
    """
    metadata = examine_meta(tree)
    # trafilatura guards this call the same way: its JSON-LD parsing has known bugs, and the
    # meta tags found so far stand.
    with contextlib.suppress(Exception):
        metadata = extract_meta_json(tree, metadata)
    return metadata.title or extract_title(tree) or "", metadata.url or ""


def normalise_text(text: str) -> str:
    """The form of the main text that is hashed: NFKC, no zero-width characters, one space."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    return " ".join(text.split())


def simhash_distance(first: str, second: str) -> int:
    """Bits that differ between two ``simhash`` values: 0 for the same text, ~32 for unrelated.

    A typo fix moves a few bits, a rewritten paragraph more; callers pick the threshold.
    """
    return (int(first, 16) ^ int(second, 16)).bit_count()


def _parse_content_type(content_type: str) -> tuple[str, str]:
    media_type, _, parameters = content_type.partition(";")
    charset = ""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'")
    return media_type.strip().lower(), charset


def _is_html(media_type: str, body: bytes) -> bool:
    if media_type in HTML_TYPES:
        return True
    if media_type:
        return False
    # No Content-Type at all: sniff, as browsers do, rather than hash markup as a document.
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _encoding(body: bytes, header_charset: str) -> str:
    """The HTML standard's order: byte-order mark, transport charset, <meta>, then a default.

    Never requests' ISO-8859-1 default for ``text/*`` without a charset, which garbles UTF-8.
    """
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for label in (header_charset, _meta_charset(body)):
        if label:
            try:
                name = codecs.lookup(label).name
            except LookupError:
                continue
            return "cp1252" if name in WINDOWS_1252_ALIASES else name
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _meta_charset(body: bytes) -> str:
    match = _META_CHARSET.search(body[:META_PRESCAN_BYTES])
    return match.group(1).decode("ascii") if match else ""


def _parse_html(body: bytes, header_charset: str) -> lxml.html.HtmlElement | None:
    # Decoding here, with the charset chosen above, rather than letting the parser or
    # trafilatura guess: trafilatura tries UTF-8 and then statistical detection, never <meta>.
    text = body.decode(_encoding(body, header_charset), errors="replace")
    # lxml refuses str input that still carries an XML encoding declaration (XHTML pages).
    text = _XML_DECLARATION.sub("", text, count=1)
    if not text.strip():
        return None
    try:
        return lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return None


def _canonical_url(tree: lxml.html.HtmlElement, url: str) -> str:
    """What the page declares as its canonical address; "" if it declares none.

    Not trafilatura's ``url``, which falls back to the URL passed in: a page that names no
    canonical URL should not appear to confirm the one it was fetched from.
    """
    candidates = [
        link.get("href", "")
        for link in tree.iter("link")
        if "canonical" in (link.get("rel") or "").lower().split()
    ]
    candidates += [
        meta.get("content", "") for meta in tree.iter("meta") if meta.get("property") == "og:url"
    ]
    for candidate in candidates:
        absolute = urljoin(url, candidate.strip())
        if candidate.strip() and urlsplit(absolute).scheme in ("http", "https"):
            return absolute
    return ""


def _language(tree: lxml.html.HtmlElement) -> str:
    """A short BCP 47 tag (``en``, ``en-GB``) from <html lang>, Content-Language or og:locale."""
    candidates = [
        tree.get("lang", ""),
        tree.get("{http://www.w3.org/XML/1998/namespace}lang", ""),
    ]
    for meta in tree.iter("meta"):
        if (meta.get("http-equiv") or "").lower() == "content-language" or (
            meta.get("property") == "og:locale"
        ):
            candidates.append(meta.get("content", ""))
    for candidate in candidates:
        match = _LANGUAGE_TAG.fullmatch(candidate.strip())
        if match:
            primary, region = match.group(1).lower(), match.group(2)
            if not region:
                return primary
            return f"{primary}-{region.upper() if len(region) == 2 else region.title()}"
    return ""


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None
