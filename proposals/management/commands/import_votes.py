"""Import recorded UN General Assembly votes (a CSV) as positions; see ``proposals.votes``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from proposals.models import Category, Measure
from proposals.votes import (
    PARAMETER,
    VotesFileError,
    VotesImportError,
    count_rows,
    read_votes_csv,
    votes_import,
)


class Command(BaseCommand):
    help = (
        "Import a UN Digital Library voting-data export (CSV: undl_id, ms_code, ms_name, "
        "ms_vote, date, resolution, …, undl_link), or a CSV with the columns resolution, date, "
        "country, vote, as one dated, cited position per state and resolution: yes → endorses, "
        "no → opposes, abstention → neutral, non-voting → none. A resolution's votes go to "
        f'every measure whose parameters["{PARAMETER}"] lists its symbol (or all to --measure); '
        "a resolution no measure lists is reported and skipped unless --create-measures. "
        "All-or-nothing, idempotent; prints a report of what matched and what did not."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help='The CSV file; "-" reads standard input.')
        parser.add_argument(
            "--measure",
            metavar="SLUG",
            help="Map every resolution of the file to this measure.",
        )
        parser.add_argument(
            "--create-measures",
            action="store_true",
            help="Create a measure (form proposal, scope multilateral, venue UN General "
            f'Assembly, parameters["{PARAMETER}"] = [symbol]) for each resolution no measure '
            "lists.",
        )
        parser.add_argument(
            "--category",
            default=Category.Code.OTHER,
            choices=Category.Code.values,
            help="Category of the measures --create-measures creates (default: %(default)s).",
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="Whose name the audit history records for these writes (default: nobody).",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = None
        if options["user"]:
            try:
                user = get_user_model()._default_manager.get_by_natural_key(options["user"])
            except get_user_model().DoesNotExist:
                raise CommandError(f"No user named {options['user']!r}.") from None
        measure = None
        if options["measure"]:
            measure = Measure.objects.filter(slug=options["measure"]).first()
            if measure is None:
                raise CommandError(f"No measure with the slug {options['measure']!r}.")
        try:
            resolutions = read_votes_csv(self._read(options["file"]))
        except VotesFileError as error:
            raise CommandError(f"Nothing was imported: {error}") from None
        # The bar goes to standard error and hides itself when that is not a terminal.
        with tqdm(total=count_rows(resolutions), unit="row", file=sys.stderr, disable=None) as bar:
            try:
                report = votes_import(
                    resolutions=resolutions,
                    user=user,
                    measure=measure,
                    create_measures=options["create_measures"],
                    category=options["category"],
                    progress=bar.update,
                )
            except VotesImportError as error:
                raise CommandError(f"Nothing was imported: {error}") from None
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        for line in report.lines():
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("Imported."))

    def _read(self, name: str) -> str:
        try:
            if name == "-":
                return sys.stdin.read()
            return Path(name).read_text(encoding="utf-8-sig")
        except OSError as error:
            raise CommandError(f"Cannot read {name}: {error.strerror}") from None
        except UnicodeDecodeError as error:
            raise CommandError(f"{name} is not UTF-8 text: {error}") from None
