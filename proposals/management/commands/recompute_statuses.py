"""Recompute every measure's stored status from its events (the daily job, on demand), or with
``--check`` only report the measures whose stored status differs from the derived one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from proposals import derived


def _shown(stored: derived.Stored) -> str:
    if stored.possible:
        return "uncertain: " + " or ".join(stored.possible.strip(",").split(","))
    return stored.status or "(no status)"


class Command(BaseCommand):
    help = (
        "Recompute every measure's stored status from its events. With --check, change "
        "nothing: list each measure whose stored status has drifted and exit with status 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only report drifted measures; exit non-zero if there is any.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"]:
            drift = derived.drifted()
            for slug, stored, want in drift:
                self.stderr.write(f"{slug}: stored {_shown(stored)}, derived {_shown(want)}")
            if drift:
                raise CommandError(
                    f"{len(drift)} measure statuses differ from their events; "
                    "run `manage.py recompute_statuses` to rewrite them."
                )
            self.stdout.write("Every stored status equals the derived one.")
            return
        changed = derived.rederive_all()
        self.stdout.write(f"{changed} measure statuses changed.")
