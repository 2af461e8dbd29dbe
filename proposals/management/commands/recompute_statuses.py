"""Recompute every measure's stored status from its events (the daily job, on demand)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from proposals.services import measures_recompute_statuses


class Command(BaseCommand):
    help = "Recompute every measure's stored status from its events."

    def handle(self, *args: Any, **options: Any) -> None:
        changed = measures_recompute_statuses()
        self.stdout.write(f"{changed} measure statuses changed.")
