import argparse
import datetime
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from loyalty.services.expiry import expire_points, preview_expiry
from loyalty.services.task_runs import run_recorded
from loyalty.tasks import EXPIRE_POINTS
from merchants.models import Merchant


def _moment(value: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO date-time, e.g. 2026-03-01T02:00:00+01:00"
        ) from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, datetime.UTC)


class Command(BaseCommand):
    help = (
        "Expire the points of inactive cards and queue the expiry warnings, as the nightly "
        "job does. Safe to interrupt and to re-run: nothing expires twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--merchant",
            action="append",
            dest="merchants",
            metavar="SLUG",
            help="Only this merchant (repeatable). Default: every merchant.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would expire and which warnings would go out; change nothing.",
        )
        parser.add_argument(
            "--now",
            type=_moment,
            help="Expire as of this ISO date-time (UTC when it has no offset). Default: now.",
        )

    def handle(self, *args, merchants, dry_run, now, **options):
        slugs = merchants or []
        selected = list(Merchant.objects.filter(slug__in=slugs)) if slugs else None
        unknown = sorted(set(slugs) - {m.slug for m in selected or []})
        if unknown:
            raise CommandError(f"Unknown merchant: {', '.join(unknown)}")
        now = now or timezone.now()

        if dry_run:
            counts = preview_expiry(now=now, merchants=selected)
            self.stdout.write(
                f"Dry run as of {now.isoformat()}: would expire {counts.points} points on "
                f"{counts.cards} cards in {counts.programs} programmes and queue "
                f"{counts.warnings} warnings. Nothing was changed."
            )
            return

        progress = None
        if sys.stderr.isatty():
            total = preview_expiry(now=now, merchants=selected).cards
            progress = tqdm(total=total, unit="card", desc="Expiring", file=sys.stderr)
        try:
            counts = run_recorded(
                task=EXPIRE_POINTS,
                scope=",".join(sorted(set(slugs))),
                work=lambda: expire_points(
                    now=now,
                    merchants=selected,
                    on_progress=progress.update if progress else None,
                ).as_dict(),
            )
        except Exception as exc:
            raise CommandError(
                f"Expiry failed: {exc}. Chunks committed before the failure stay expired; "
                "re-run the same command to finish."
            ) from exc
        finally:
            if progress is not None:
                progress.close()
        self.stdout.write(
            f"Expired {counts['points']} points on {counts['cards']} cards in "
            f"{counts['programs']} programmes; queued {counts['warnings']} warnings."
        )
