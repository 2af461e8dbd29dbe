"""What one check means: a fetch result and the source's stored state in, a judgement out.

Pure: no I/O, no clock (``now`` is an argument). :func:`judge` decides the ``SourceCheck`` row
and the new refresh state; ``tracker.services`` fetches, calls it and writes both.

Rules
-----
============================  ==============  =================================  ============
What came back                Check outcome   Source health                      Next check
============================  ==============  =================================  ============
200, main text as before      ok              ok (redirected if it moved)        interval
200, first hash or new        ok              ok (redirected if it moved)        interval
extractor
200, main text differs        changed         changed                            interval / 4
200 after redirects           redirected      redirected                         interval
304 Not Modified              not_modified    ok (redirected if it moved)        interval
404 / 410                     gone            broken from the ``broken_after``-  backoff
                                              th gone in a row, else
                                              unreachable
403, 429, 5xx, other status   http_error      unreachable                        backoff
deadline, connection, TLS,    network_error   unreachable                        backoff
unreadable robots.txt
too many redirects            http_error      unreachable                        backoff
refused address, bad URL,     blocked         blocked                            interval
robots.txt disallows
body over the cap             too_large       unchanged                          interval
============================  ==============  =================================  ============

"Moved" means the final URL differs from the source's URL. Backoff is one hour doubled per
consecutive failure, at most a week, and never earlier than the server's ``Retry-After``.
Every delay is stretched by a fixed per-URL fraction of up to 10 %, so sources added
together do not stay due together. Only a 200 with extracted text changes the stored hash,
and only a stored hash computed by the same extractor version can report a change: after an
upgrade the first hash is a new baseline. ``too_large`` keeps the response's validators, so
the next check can be answered 304 instead of streaming the same oversized body again.

A check the checker itself could not finish (Redis, the database or the broker out of reach, or
a bug) is not judged at all: nothing is written and the source's health, failure count and
schedule stand (see ``tracker.services``). Rows with outcome ``failed`` date from before that rule.

What a curator typed is never touched: a judgement sets only ``REFRESH_FIELDS``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tracker.fetcher import FetchResult
from tracker.metadata import PageMetadata
from tracker.models import Source, SourceCheck

Health = Source.Health
Outcome = SourceCheck.Outcome

BACKOFF_FIRST = timedelta(hours=1)
BACKOFF_MAX = timedelta(days=7)
# A server may ask for anything in Retry-After; past a month it is not asking for a retry.
RETRY_AFTER_MAX = timedelta(days=30)
JITTER = 0.10
CHANGED_INTERVAL_FRACTION = 4

GONE_STATUSES = frozenset({404, 410})
BLOCKING_ERRORS = frozenset({"blocked_address", "bad_url", "robots_disallowed"})
NETWORK_ERRORS = frozenset({"deadline", "connection", "tls", "robots_unavailable"})

# Field sizes of the Source model, which fetched values must fit.
TITLE_MAX = Source._meta.get_field("fetched_title").max_length or 500
URL_MAX = Source._meta.get_field("final_url").max_length or 2000
LANGUAGE_MAX = Source._meta.get_field("fetched_language").max_length or 16
VALIDATOR_MAX = Source._meta.get_field("etag").max_length or 500
LAST_MODIFIED_MAX = Source._meta.get_field("last_modified").max_length or 100


@dataclass(frozen=True)
class Schedule:
    """The settings the rules depend on."""

    interval: timedelta
    broken_after: int


@dataclass(frozen=True)
class Stored:
    """The part of a source's stored state the rules read."""

    url: str
    content_hash: str = ""
    content_hash_version: str = ""
    health: str = Health.UNCHECKED
    consecutive_failures: int = 0
    # Gone (404/410) checks immediately before this one, newest first, up to broken_after - 1.
    gone_streak: int = 0


@dataclass
class Judgement:
    outcome: str
    check: dict[str, Any]  # SourceCheck fields
    source: dict[str, Any] = field(default_factory=dict)  # Source refresh fields to write

    @property
    def health(self) -> str:
        return str(self.source.get("health", ""))


def judge(
    result: FetchResult,
    page: PageMetadata | None,
    stored: Stored,
    *,
    now: datetime,
    schedule: Schedule,
) -> Judgement:
    """The check row and the refresh fields for ``result``; see the module docstring.

    ``page`` is the metadata extracted from a 200 body (``None`` for anything else).
    """
    moved = bool(result.final_url) and result.final_url != stored.url
    check: dict[str, Any] = {
        "checked_at": now,
        "http_status": result.status,
        "final_url": result.final_url[:URL_MAX],
        "duration_ms": result.duration_ms,
        "bytes_read": result.bytes_read,
        "error": result.error,
    }
    source: dict[str, Any] = {
        "last_checked_at": now,
        "http_status": result.status,
        "last_error": result.error,
    }
    if result.status is not None:
        source["final_url"] = result.final_url[:URL_MAX]
    failures = stored.consecutive_failures + 1
    jitter = _jitter(stored.url)

    def failed(outcome: str, health: str, next_check_at: datetime) -> Judgement:
        source.update(health=health, consecutive_failures=failures, next_check_at=next_check_at)
        return Judgement(outcome, {**check, "outcome": outcome}, source)

    regular = now + schedule.interval * (1 + jitter)

    if result.error_kind == "too_large":
        # Said nothing about whether the page is up or changed; keep its validators so an
        # unchanged oversized page costs a 304 next time, not another capped download.
        source.update(next_check_at=regular, **_validators(result))
        return Judgement(Outcome.TOO_LARGE, {**check, "outcome": Outcome.TOO_LARGE}, source)
    if result.error_kind in BLOCKING_ERRORS:
        return failed(Outcome.BLOCKED, Health.BLOCKED, regular)
    if result.error_kind in NETWORK_ERRORS:
        return failed(Outcome.NETWORK_ERROR, Health.UNREACHABLE, _backoff(stored, now))
    if result.error_kind is not None:  # too_many_redirects
        return failed(Outcome.HTTP_ERROR, Health.UNREACHABLE, _backoff(stored, now))

    status = result.status or 0
    if status in GONE_STATUSES:
        broken = stored.gone_streak + 1 >= schedule.broken_after
        check["error"] = source["last_error"] = f"HTTP {status}: the page is gone"
        return failed(
            Outcome.GONE, Health.BROKEN if broken else Health.UNREACHABLE, _backoff(stored, now)
        )
    if not (result.not_modified or 200 <= status < 300):
        check["error"] = source["last_error"] = f"HTTP {status}"
        return failed(
            Outcome.HTTP_ERROR,
            Health.UNREACHABLE,
            _backoff(stored, now, result.retry_after_seconds),
        )

    source.update(consecutive_failures=0, last_error="")
    if result.not_modified:
        # A 304 may carry fresher validators; an absent one does not erase the stored one.
        source.update({k: v for k, v in _validators(result).items() if v})
        source.update(health=Health.REDIRECTED if moved else Health.OK, next_check_at=regular)
        check.update(outcome=Outcome.NOT_MODIFIED, content_hash=stored.content_hash)
        return Judgement(Outcome.NOT_MODIFIED, check, source)

    source.update(_validators(result))
    if page is not None:
        source.update(
            fetched_title=page.title[:TITLE_MAX],
            fetched_published_on=page.published_on,
            fetched_canonical_url=page.canonical_url[:URL_MAX],
            fetched_language=page.language[:LANGUAGE_MAX],
        )
    new_hash, version = (page.text_hash, page.extractor_version) if page else ("", "")
    # A page with no text keeps the stored hash: "nothing extracted" is not a new version.
    comparable = bool(new_hash and stored.content_hash and stored.content_hash_version == version)
    if new_hash:
        source.update(content_hash=new_hash, content_hash_version=version)
    check["content_hash"] = new_hash or stored.content_hash
    if comparable and new_hash != stored.content_hash:
        outcome = Outcome.CHANGED
        source.update(
            health=Health.CHANGED,
            content_changed_at=now,
            next_check_at=now + schedule.interval / CHANGED_INTERVAL_FRACTION * (1 + jitter),
        )
    else:
        outcome = Outcome.REDIRECTED if moved else Outcome.OK
        source.update(health=Health.REDIRECTED if moved else Health.OK, next_check_at=regular)
    check["outcome"] = outcome
    return Judgement(outcome, check, source)


def _backoff(stored: Stored, now: datetime, retry_after: int | None = None) -> datetime:
    """When to try again after one more failure in a row, never before ``Retry-After``."""
    delay = min(BACKOFF_FIRST * 2**stored.consecutive_failures, BACKOFF_MAX)
    if retry_after:
        delay = max(delay, min(timedelta(seconds=retry_after), RETRY_AFTER_MAX))
    return now + delay * (1 + _jitter(stored.url))


def _validators(result: FetchResult) -> dict[str, str]:
    # Values too long for the columns are useless as validators when truncated; drop them.
    etag = result.etag if len(result.etag) <= VALIDATOR_MAX else ""
    modified = result.last_modified if len(result.last_modified) <= LAST_MODIFIED_MAX else ""
    return {"etag": etag, "last_modified": modified}


def _jitter(url: str) -> float:
    """A fraction in [0, JITTER), fixed for a URL: every process computes the same."""
    digest = hashlib.sha256(url.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * JITTER
