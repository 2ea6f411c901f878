from django.contrib import admin

from loyalty.admin.base import ReadOnlyAdmin
from loyalty.models import BulkBonusJob
from merchants.scoped_admin import MerchantScopedAdmin


@admin.register(BulkBonusJob)
class BulkBonusJobAdmin(MerchantScopedAdmin, ReadOnlyAdmin):
    """Background bonuses and how far they got: reload the page to follow one."""

    list_display = [
        "__str__",
        "merchant",
        "status",
        "progress",
        "changed",
        "requested_by",
        "created_at",
    ]
    list_filter = ["status", "merchant"]
    list_select_related = ["merchant", "requested_by"]
    fields = [
        "merchant",
        "requested_by",
        "points",
        "reason",
        "status",
        "progress",
        "changed",
        "skipped",
        "created_at",
        "finished_at",
    ]
    readonly_fields = fields

    @admin.display(description="progress")
    def progress(self, job) -> str:
        return f"{job.processed} of {job.total} cards ({job.percent_done}%)"
