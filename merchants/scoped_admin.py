"""The admin as a merchant's staff sees it: only their merchant's rows (their store's, for
store staff), in every list, form, action, filter and autocomplete.

Operators (staff users without a StaffMembership) keep Django's model permissions. A
merchant's staff get their permissions from their role instead: every role may look; owners
and managers may change what the admin allows them to (`staff_may_*`) and run operations;
nobody but a superuser deletes anything permanently.
"""

from django.contrib import admin

from merchants.access import NO_ACCESS, scope_for
from merchants.models import Merchant, Store


class MerchantScopedAdmin(admin.ModelAdmin):
    # Lookup from this model to its merchant, e.g. "program__merchant" for a card.
    merchant_path: str = "merchant"
    # Lookup to its store, for staff of one store; None: store staff do not see this model.
    store_path: str | None = None
    # The store lookup crosses a many-valued relation (a customer's cards): filter by id.
    store_path_is_many = False
    staff_may_add = False
    staff_may_change = False
    staff_may_delete = False

    def scoped(self, request, queryset):
        """The rows of `queryset` the user reaches."""
        scope = scope_for(request.user)
        if scope.is_operator:
            return queryset
        if scope is NO_ACCESS or (scope.store_id and self.store_path is None):
            return queryset.none()
        queryset = queryset.filter(**{self.merchant_path: scope.merchant_id})
        if scope.store_id:
            if self.store_path_is_many:
                inside = queryset.model._base_manager.filter(**{self.store_path: scope.store_id})
                return queryset.filter(pk__in=inside.values("pk"))
            queryset = queryset.filter(**{self.store_path: scope.store_id})
        return queryset

    def get_queryset(self, request):
        return self.scoped(request, super().get_queryset(request))

    def _covers(self, request, obj) -> bool:
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def _staff_may(self, request, allowed: bool, obj) -> bool:
        scope = scope_for(request.user)
        return allowed and scope.may_operate and self._covers(request, obj)

    def has_module_permission(self, request):
        if scope_for(request.user).is_operator:
            return super().has_module_permission(request)
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        scope = scope_for(request.user)
        if scope.is_operator:
            return super().has_view_permission(request, obj)
        if scope is NO_ACCESS or (scope.store_id and self.store_path is None):
            return False
        return self._covers(request, obj)

    def has_add_permission(self, request, *args):
        if scope_for(request.user).is_operator:
            return super().has_add_permission(request, *args)
        return self._staff_may(request, self.staff_may_add, None)

    def has_change_permission(self, request, obj=None):
        if scope_for(request.user).is_operator:
            return super().has_change_permission(request, obj)
        return self._staff_may(request, self.staff_may_change, obj)

    def has_delete_permission(self, request, obj=None):
        if scope_for(request.user).is_operator:
            return super().has_delete_permission(request, obj)
        return self._staff_may(request, self.staff_may_delete, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Choices of a merchant or store limited to the user's."""
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        scope = scope_for(request.user)
        if field is None or scope.is_operator:
            return field
        if db_field.related_model is Merchant:
            field.queryset = field.queryset.filter(pk=scope.merchant_id)
        elif db_field.related_model is Store:
            stores = field.queryset.filter(merchant_id=scope.merchant_id)
            field.queryset = stores.filter(pk=scope.store_id) if scope.store_id else stores
        return field

    def get_list_filter(self, request):
        """Related filters list only values among the rows the user reaches."""
        filters = super().get_list_filter(request)
        if scope_for(request.user).is_operator:
            return filters
        scoped = []
        for item in filters:
            if (
                isinstance(item, str)
                and "__" not in item
                and self.model._meta.get_field(item).is_relation
            ):
                item = (item, admin.RelatedOnlyFieldListFilter)
            scoped.append(item)
        return scoped
