"""Who calls the operations API and for which merchant.

`/api/v1/merchant/` is for a merchant's own staff: the merchant is their membership's.
`/api/v1/admin/` is for platform operators acting on a merchant's behalf: the merchant is the
`merchant_id` query parameter. Session (with CSRF) or token (`Authorization: Token <key>`)."""

from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from loyalty.errors import InvalidInput, NotFound
from merchants.access import NotAllowed, Scope, scope_for
from merchants.models import Merchant

MAX_ID = 2**63 - 1


class OperationsView(APIView):
    # Token first: an anonymous call is then answered 401 with `WWW-Authenticate: Token`.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    # True under /api/v1/admin/: an operator names the merchant with `merchant_id`.
    on_behalf = False

    @property
    def scope(self) -> Scope:
        return scope_for(self.request.user)

    def merchant_id(self) -> int:
        scope = self.scope
        if not self.on_behalf:
            if scope.is_operator:
                raise NotAllowed(
                    "This API is for a merchant's staff; operators use /api/v1/admin/ with "
                    "merchant_id."
                )
            if scope.merchant_id == 0:
                raise NotAllowed("You are not staff of any merchant.")
            return scope.merchant_id
        if not scope.is_operator:
            raise NotAllowed("This API is for platform operators.")
        raw = self.request.query_params.get("merchant_id", "")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
            raise InvalidInput(
                "merchant_id, the merchant acted for, is required as a query parameter.",
                fields={"merchant_id": ["required"]},
            )
        if not Merchant.all_objects.filter(pk=int(raw)).exists():
            raise NotFound("Merchant not found.")
        return int(raw)
