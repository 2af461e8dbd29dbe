"""Print the data-quality queue: the number of findings of every rule, and optionally each."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from proposals import quality
from proposals.models import Actor, Measure


class Command(BaseCommand):
    help = "Count the data-quality findings per rule (--findings lists them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rule", action="append", choices=quality.RULE_IDS, help="Only this rule (repeat)."
        )
        parser.add_argument("--measure", help="Only findings about this measure (slug).")
        parser.add_argument("--actor", help="Only findings about this actor (code).")
        parser.add_argument("--findings", action="store_true", help="List every finding too.")

    def handle(self, *args: Any, **options: Any) -> None:
        measure, actor = options["measure"], options["actor"]
        actor = actor.upper() if actor else None
        if measure and not Measure.objects.filter(slug=measure).exists():
            raise CommandError(f"There is no measure with the slug {measure!r}.")
        if actor and not Actor.objects.filter(code=actor).exists():
            raise CommandError(f"There is no actor with the code {actor!r}.")
        rules = options["rule"] or quality.RULE_IDS
        found = quality.findings(rules=rules, measure=measure, actor=actor)
        tally = quality.counts(found)
        width = max(len(rule) for rule in quality.RULE_IDS)
        for rule in quality.RULES:
            if rule.id in rules:
                self.stdout.write(f"{rule.id:<{width}}  {tally[rule.id]:>6}  {rule.title}")
        self.stdout.write(f"{'total':<{width}}  {len(found):>6}")
        if options["findings"]:
            for finding in found:
                self.stdout.write(
                    f"{finding.rule}\t{finding.object_type} {finding.object_id}\t"
                    f"{finding.label}\t{finding.reason}"
                )
