"""The daily recomputation of stored statuses and participations runs just after midnight UTC,
when "today" changes, not 24 hours after whenever beat happened to start."""

from __future__ import annotations

import datetime

from django.conf import settings


def test_the_daily_recomputation_is_due_just_after_midnight_utc() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["recompute-measure-status-daily"]
    schedule = entry["schedule"]
    utc = datetime.UTC

    def due_after(now: datetime.datetime) -> datetime.timedelta:
        schedule.nowfun = lambda: now
        return schedule.remaining_estimate(now)

    # Whenever beat last ran it, the next run is the next 00:05 UTC.
    late = datetime.datetime(2026, 12, 1, 23, 59, tzinfo=utc)
    assert due_after(late) <= datetime.timedelta(minutes=6)
    early = datetime.datetime(2026, 12, 1, 0, 6, tzinfo=utc)
    assert due_after(early) >= datetime.timedelta(hours=23, minutes=58)
    assert entry["task"] == "proposals.tasks.recompute_all_statuses"
