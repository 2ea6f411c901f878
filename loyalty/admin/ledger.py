from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from loyalty.admin.base import ReadOnlyAdmin
from loyalty.models import Transaction
from merchants.scoped_admin import MerchantScopedAdmin


class LedgerPaginator(Paginator):
    """The ledger grows without bound: count it only up to `count_limit` rows. Beyond that
    the count is a lower bound, labelled as an estimate, and only pages up to it are linked,
    so no link ever leads to a page that does not exist."""

    count_limit = 10_000

    @cached_property
    def _bounded_count(self) -> int:
        return self.object_list[: self.count_limit + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._bounded_count, self.count_limit)

    @property
    def is_estimate(self) -> bool:
        return self._bounded_count > self.count_limit


@admin.register(Transaction)
class TransactionAdmin(MerchantScopedAdmin, ReadOnlyAdmin):
    store_path = "card__enrolled_store"
    list_display = [
        "id",
        "created_at",
        "type",
        "card",
        "store",
        "points_delta",
        "points_balance_after",
        "stamps_delta",
        "stamps_balance_after",
        "acting_admin",
    ]
    list_filter = ["type", "merchant"]
    list_select_related = ["card", "store__merchant", "acting_admin"]
    search_fields = ["=card__number", "order_reference"]
    paginator = LedgerPaginator
    # Newest first on the primary key: the ledger has no index on created_at alone.
    ordering = ["-id"]
    show_full_result_count = False
