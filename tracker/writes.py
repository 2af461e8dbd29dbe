"""A curator's writes of sources: keyword-only, atomic, built on ``common.writes`` (author,
validation, change detection, ``Duplicate`` for a URL already linked).

Only the curator's fields are written here; a refresh owns the others (``tracker.models``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from simple_history.utils import bulk_create_with_history

from common import writes
from common.writes import User
from tracker.models import Source, fresh_refresh_state
from tracker.urlnorm import InvalidSourceURL, url_match_key

SOURCE_CURATOR_FIELDS = (
    "url",
    "title",
    "publisher",
    "kind",
    "is_primary",
    "published_on",
    "archived_url",
)


def _curator_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(SOURCE_CURATOR_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Set by the refresh, not by curators."))
    result = dict(fields)
    if "url" in result:
        # The URL is stored as cited; its key goes with it, so a save writes both (and retyping
        # another spelling of the same address is not a new address). A bad URL is left for
        # Source.clean() to reject with its message.
        with contextlib.suppress(InvalidSourceURL):
            result["url_key"] = url_match_key(result["url"])
    return result


@transaction.atomic
def source_create(*, user: User, fields: Mapping[str, Any]) -> Source:
    """Raises ``Duplicate`` when the URL, in any spelling, is already a source."""
    return writes.create(Source, user=user, fields=_curator_fields(fields))


@transaction.atomic
def source_update(*, source: Source, user: User, fields: Mapping[str, Any]) -> bool:
    """Write a curator's edit; a new address also resets the refresh state (checked anew, soon).

    Another spelling of the same address (``tracker.urlnorm``) is stored as cited but keeps what
    the refreshes found.
    """
    fields = _curator_fields(fields)
    if "url" in fields and fields.get("url_key") != source.url_key:
        fields.update(fresh_refresh_state())
    return writes.update(source, user=user, fields=fields)


@transaction.atomic
def source_delete(*, source: Source, user: User) -> None:
    """Raises ``ProtectedError`` while citations refer to it."""
    writes.delete(source, user=user)


@transaction.atomic
def sources_for_urls(*, urls: Iterable[tuple[str, str]], user: User) -> dict[str, Source]:
    """The source of each URL, matched by its key (any spelling of the same address), the
    missing ones created as cited (with the curator's defaults: kind ``other``, no title; the
    refresh fetches the rest).

    ``urls``: ``(where, url)`` pairs, ``where`` naming the field for an error message. Returns
    ``{url key: source}`` (``tracker.urlnorm.url_match_key``). Two queries (the lookup, and the
    creation with its history rows when any is new), however many URLs.
    """
    wanted: dict[str, tuple[str, str]] = {}
    errors: dict[str, list[str]] = {}
    for where, url in urls:
        try:
            wanted.setdefault(url_match_key(url), (where, url.strip()))
        except InvalidSourceURL as error:
            errors[where] = [str(error)]
    if errors:
        raise ValidationError(errors)
    found = {source.url_key: source for source in Source.objects.filter(url_key__in=list(wanted))}
    new = []
    for key, (where, url) in wanted.items():
        if key in found:
            continue
        source = Source(url=url, url_key=key)
        # The lookup above is the uniqueness check (the database's index backs it), so the
        # model's own look for another source is not repeated for each new one.
        try:
            source.clean_fields()
            source.clean_url()
        except ValidationError as error:
            raise writes.prefixed(error, where) from None
        writes.author(source, user)
        new.append(source)
    if new:
        for source in bulk_create_with_history(new, Source):
            found[source.url_key] = source
    return found
