"""Import a dataset document (the format ``GET /api/v1/export/`` serves) from a file.

All-or-nothing and idempotent on natural keys, like ``POST /api/v1/import/``; prints the same
report. Exits with an error, having written nothing, when any row is rejected.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from proposals.dataset import dataset_import, document_rows


class Command(BaseCommand):
    help = "Import a dataset document (JSON, as exported) all-or-nothing; print the report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help='The JSON document; "-" reads standard input.')
        parser.add_argument(
            "--keep-existing",
            action="store_true",
            help="Leave rows that already exist exactly as they are; only add new ones.",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print the report as the API's JSON instead of a table.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data = self._read(options["file"])
        total = document_rows(data)
        # The bar goes to standard error, so standard output holds only the report; it hides
        # itself when standard error is not a terminal.
        with tqdm(total=total, unit="row", file=sys.stderr, disable=None) as bar:
            report = dataset_import(
                data=data, update_existing=not options["keep_existing"], progress=bar.update
            )
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            for table, counts in report.counts().items():
                self.stdout.write(
                    f"{table:<10} {counts['created']:>6} created {counts['updated']:>6} updated "
                    f"{counts['unchanged']:>6} unchanged {counts['rejected']:>6} rejected"
                )
            for row in report.rejected:
                self.stdout.write(f"rejected {row.table} {row.key}: {row.reason}")
        if not report.applied:
            raise CommandError(f"Nothing was imported: {len(report.rejected)} rows rejected.")
        if not options["json"]:
            self.stdout.write(self.style.SUCCESS("Imported."))

    def _read(self, name: str) -> Any:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Cannot read {name}: {error.strerror}") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise CommandError(f"{name} is not JSON: {error}") from None
