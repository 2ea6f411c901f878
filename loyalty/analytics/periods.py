"""The date range every figure is computed over, in the merchant's time zone."""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone

from merchants.access import MerchantAccess
from merchants.errors import InvalidInput, NotFound
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


def twelve_months_to(date_to: datetime.date) -> datetime.date:
    """The first day of the month eleven months before `date_to`'s: twelve months in all."""
    month = date_to.year * 12 + date_to.month - 1 - 11
    return datetime.date(month // 12, month % 12 + 1, 1)


def month_starts(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """The first day of every month from `first`'s month to `last`'s, both included."""
    months = []
    month = first.year * 12 + first.month - 1
    while month <= last.year * 12 + last.month - 1:
        months.append(datetime.date(month // 12, month % 12 + 1, 1))
        month += 1
    return months


def period_for(
    *,
    access: MerchantAccess,
    date_from: datetime.date | None,
    date_to: datetime.date | None,
    store_code: str | None,
) -> Period:
    """The period a request asks for, within what its user may see: the range ends today
    (local) unless told, and starts twelve months earlier (on a month's first day) unless
    told; a store-scoped member always gets their store, and asking for
    another is not found."""
    if access.store is not None:
        if store_code and store_code != access.store.code:
            raise NotFound("No such store.")
        store = access.store
    elif store_code:
        store = Store.objects.filter(merchant=access.merchant, code=store_code).first()
        if store is None:
            raise InvalidInput(fields={"store": ["The merchant has no store with this code."]})
    else:
        store = None
    date_to = date_to or local_today(access.merchant)
    return Period(
        merchant=access.merchant,
        date_from=date_from or twelve_months_to(date_to),
        date_to=date_to,
        store=store,
    )
