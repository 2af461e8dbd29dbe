"""Recompute every measure's stored status, participations and involvement from its events,
positions and parties (the daily job, on demand), or with ``--check`` only report what is stored
and differs from the derived state."""

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
        "Recompute every measure's stored status, participations and involvement from its "
        "events, positions and parties. With --check, change nothing: list each measure whose "
        "stored status, participation or involvement has drifted and exit with status 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only report drifted statuses, participations and involvement; exit non-zero "
            "if there is any.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["check"]:
            changed = derived.rederive_all()
            self.stdout.write(
                f"{changed} measures changed (status, participations or involvement)."
            )
            return
        found = derived.drift()
        shown = (
            (found.statuses, "(no status)", "measure statuses"),
            (found.participations, "(no participation)", "participations"),
            (found.involvement, "(not involved)", "involvement rows"),
            (found.spans, "(no spans)", "measures' answers over time"),
        )
        problems = []
        for drifted, nothing, what in shown:
            for label, stored, want in drifted:
                self.stderr.write(
                    f"{label}: stored {_shown(stored, nothing=nothing)}, "
                    f"derived {_shown(want, nothing=nothing)}"
                )
            if drifted:
                problems.append(f"{len(drifted)} {what}")
        if problems:
            raise CommandError(
                f"{' and '.join(problems)} differ from their events, positions and parties; "
                "run `manage.py recompute_statuses` to rewrite them."
            )
        self.stdout.write(
            "Every stored status, participation, involvement and span equals the derived one."
        )
