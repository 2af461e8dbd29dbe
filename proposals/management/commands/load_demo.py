"""Load the demo dataset shipped with the code. Safe to run at every start: rows that already
exist are left exactly as they are, so a curator's edits survive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from proposals.dataset import dataset_import

DEMO_FILE = Path(__file__).resolve().parents[2] / "demo" / "demo_data.json"


class Command(BaseCommand):
    help = "Load the demo dataset (idempotent; never overwrites existing rows)."

    def handle(self, *args: Any, **options: Any) -> None:
        data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
        report = dataset_import(data=data, update_existing=False)
        if not report.applied:
            reasons = "\n".join(f"  {r.table} {r.key}: {r.reason}" for r in report.rejected)
            raise CommandError(f"The demo data was not loaded:\n{reasons}")
        for table, counts in report.counts().items():
            self.stdout.write(
                f"{table}: {counts['created']} created, {counts['updated']} updated, "
                f"{counts['unchanged']} unchanged"
            )
