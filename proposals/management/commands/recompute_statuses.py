"""Recompute every measure's stored status and participations from its events (the daily job, on
demand), or with ``--check`` only report what is stored and differs from the derived state."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from proposals import derived


def _shown(stored: derived.Stored, *, nothing: str) -> str:
    if stored.possible:
        values = stored.possible.strip(",").split(",")
        if values == ["none"]:
            return nothing
        return "uncertain: " + " or ".join(values)
    return stored.value or nothing


class Command(BaseCommand):
    help = (
        "Recompute every measure's stored status and participations from its events. With "
        "--check, change nothing: list each measure whose stored status or participation has "
        "drifted and exit with status 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only report drifted statuses and participations; exit non-zero if there is any.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["check"]:
            changed = derived.rederive_all()
            self.stdout.write(f"{changed} measures changed (status or participations).")
            return
        found = derived.drift()
        for label, stored, want in found.statuses:
            nothing = "(no status)"
            self.stderr.write(
                f"{label}: stored {_shown(stored, nothing=nothing)}, "
                f"derived {_shown(want, nothing=nothing)}"
            )
        for label, stored, want in found.participations:
            nothing = "(no participation)"
            self.stderr.write(
                f"{label}: stored {_shown(stored, nothing=nothing)}, "
                f"derived {_shown(want, nothing=nothing)}"
            )
        for label, stored, want in found.spans:
            self.stderr.write(f"{label}: stored {stored.value}; derived {want.value}")
        problems = []
        if found.spans:
            problems.append(f"{len(found.spans)} measures' answers over time")
        if found.statuses:
            problems.append(f"{len(found.statuses)} measure statuses")
        if found.participations:
            problems.append(f"{len(found.participations)} participations")
        if problems:
            raise CommandError(
                f"{' and '.join(problems)} differ from their events; "
                "run `manage.py recompute_statuses` to rewrite them."
            )
        self.stdout.write("Every stored status and participation equals the derived one.")
