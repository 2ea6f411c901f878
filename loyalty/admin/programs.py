from django.contrib import admin

from loyalty.admin.trash import SoftDeleteAdmin
from loyalty.models import Program, Reward


class RewardInline(admin.TabularInline):
    model = Reward
    extra = 0
    # The ledger points at rewards it redeemed: a reward is made inactive, not deleted.
    can_delete = False


@admin.register(Program)
class ProgramAdmin(SoftDeleteAdmin):
    store_path = "merchant__stores"
    store_path_is_many = True
    staff_may_add = True
    staff_may_change = True
    staff_may_delete = True
    list_display = [
        "name",
        "merchant",
        "kind",
        "points_per_euro",
        "points_expiration_days",
        "is_live",
    ]
    list_filter = ["kind"]
    list_select_related = ["merchant"]
    search_fields = ["name", "merchant__name"]
    inlines = [RewardInline]
