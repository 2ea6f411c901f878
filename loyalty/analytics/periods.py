"""The date range every figure is computed over, in the merchant's time zone."""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone

from merchants.errors import InvalidInput
from merchants.models import Merchant, Store

# A range is at most about three years: enough for a cohort table, and a bound on the work
# one request can ask of the database.
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    """From the start of `date_from` to the end of `date_to` (both included), local time;
    `store` narrows the figures to one store of the merchant."""

    merchant: Merchant
    date_from: datetime.date
    date_to: datetime.date
    store: Store | None = None

    def __post_init__(self) -> None:
        if self.date_from > self.date_to:
            raise InvalidInput(fields={"date_from": ["Must not be after date_to."]})
        if (self.date_to - self.date_from).days >= MAX_DAYS:
            raise InvalidInput(fields={"date_to": [f"The range is at most {MAX_DAYS} days."]})
        if self.store is not None and self.store.merchant_id != self.merchant.pk:
            raise InvalidInput(fields={"store": ["Not a store of this merchant."]})

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.merchant.timezone)

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime.combine(self.date_from, datetime.time(), tzinfo=self.tzinfo)

    @property
    def end(self) -> datetime.datetime:
        """The first instant after the range."""
        next_day = self.date_to + datetime.timedelta(days=1)
        return datetime.datetime.combine(next_day, datetime.time(), tzinfo=self.tzinfo)

    @property
    def days(self) -> list[datetime.date]:
        count = (self.date_to - self.date_from).days + 1
        return [self.date_from + datetime.timedelta(days=n) for n in range(count)]


def local_today(merchant: Merchant) -> datetime.date:
    return timezone.now().astimezone(ZoneInfo(merchant.timezone)).date()


def default_range(merchant: Merchant) -> tuple[datetime.date, datetime.date]:
    """This month and the eleven before it, up to today in the merchant's time zone."""
    today = local_today(merchant)
    month = today.year * 12 + today.month - 1 - 11
    return datetime.date(month // 12, month % 12 + 1, 1), today


def month_starts(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """The first day of every month from `first`'s month to `last`'s, both included."""
    months = []
    month = first.year * 12 + first.month - 1
    while month <= last.year * 12 + last.month - 1:
        months.append(datetime.date(month // 12, month % 12 + 1, 1))
        month += 1
    return months
