"""The ways in: the customer's "Add to Google Wallet" link and the operators' status API."""

from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty import card_links
from loyalty.api.serializers import ErrorOutput
from loyalty.wallet import config, save_links, services
from loyalty.wallet.status import wallet_status


@never_cache
@require_GET
def add_to_wallet(request, token: str):
    """`/card/<token>/wallet/`: make the card's pass if it has none, then go to Google's
    save page. Not found when the wallet is off, the token is not valid or the card is not
    live."""
    if not config.is_enabled():
        raise Http404
    card = card_links.card_from_token(token)
    if card is None or not card.is_active or card.program.deleted_at is not None:
        raise Http404
    services.request_pass(card=card)
    return redirect(save_links.save_url(card))


class WalletProblemOutput(serializers.Serializer):
    id = serializers.CharField(help_text="The system check's id, e.g. loyalty.E004.")
    message = serializers.CharField()
    hint = serializers.CharField()


class WalletSyncOutput(serializers.Serializer):
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()
    status = serializers.CharField(help_text="`succeeded` or `failed`.")
    scope = serializers.CharField()
    pushed = serializers.IntegerField()
    failed = serializers.IntegerField()
    failure_rate = serializers.FloatField(help_text="failed / (pushed + failed); 0 when none.")
    failed_card_ids = serializers.ListField(
        child=serializers.IntegerField(), help_text="At most 1,000."
    )
    error = serializers.CharField(help_text="Why the run failed; empty when it did not.")


class WalletStatusOutput(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="GOOGLE_WALLET_ISSUER_ID is set.")
    configured = serializers.BooleanField(help_text="Enabled, and the key file is usable.")
    reason = serializers.CharField(help_text="Why it is off or broken; empty when it works.")
    problems = WalletProblemOutput(many=True)
    issuer_id = serializers.CharField()
    service_account_email = serializers.CharField()
    key_id = serializers.CharField(help_text="The service account key's id (private_key_id).")
    key_file_modified_at = serializers.DateTimeField(allow_null=True)
    key_age_days = serializers.IntegerField(
        allow_null=True, help_text="Days since the key file was last written (a rotation)."
    )
    passes = serializers.IntegerField(help_text="Cards with a pass.")
    stale_passes = serializers.IntegerField(help_text="Passes waiting for a push.")
    failing_passes = serializers.IntegerField(
        help_text="Passes that failed in 3 or more sync runs in a row."
    )
    last_sync = WalletSyncOutput(allow_null=True, help_text="The last full sync run.")


class WalletStatusView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="admin_wallet_status",
        summary="Google Wallet: configuration, passes and the last sync",
        tags=["Loyalty - Admin"],
        responses={
            200: WalletStatusOutput,
            403: OpenApiResponse(
                ErrorOutput,
                description="`not_authenticated`: no staff session; `permission_denied`: "
                "the user is not staff.",
            ),
        },
    )
    def get(self, request):
        return Response(WalletStatusOutput(wallet_status()).data)
