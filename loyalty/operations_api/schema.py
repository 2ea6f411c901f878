"""OpenAPI descriptions of the operations API, and its two mounts: `/api/v1/merchant/`
(tag "Loyalty - Merchant") and `/api/v1/admin/` (tag "Loyalty - Admin", with `merchant_id`)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from loyalty.api.serializers import ErrorOutput, LedgerOperationOutput
from loyalty.operations_api import serializers, views


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorOutput, description=description)


ERRORS = {
    400: _error("`invalid` (with `fields`): the input is not valid."),
    401: _error("`not_authenticated`, `authentication_failed`: no token or session."),
    403: _error(
        "`not_allowed`: not this API's kind of user (a merchant's staff, or an operator), or "
        "a role that may only look (only owners and managers run operations); "
        "`permission_denied`: a session call without its CSRF token."
    ),
    404: _error("`not_found`: nothing with that identifier in the merchant (or store)."),
}

MERCHANT_ID = OpenApiParameter(
    "merchant_id",
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    required=True,
    description="The merchant the operator acts for.",
)

# View -> (method, operation name, summary, description, request, success status, response).
OPERATIONS = {
    views.CardSearchView: (
        "get",
        "cards",
        "Search cards",
        "By exact card number, or customer email or name (contains), newest first, 50 per "
        "page (`page_size` up to 500). Trashed cards are included, marked `in_trash`.",
        None,
        200,
        serializers.CardPageOutput,
    ),
    views.DeactivateView: (
        "post",
        "cards_deactivate",
        "Deactivate cards",
        "Up to 500 cards, with a reason. Cards already inactive, in the trash or unknown are "
        "skipped, each with why.",
        serializers.DeactivateInput,
        200,
        serializers.BulkOutput,
    ),
    views.ReactivateView: (
        "post",
        "cards_reactivate",
        "Reactivate cards",
        "Up to 500 cards. Cards already active, in the trash or unknown are skipped.",
        serializers.ReactivateInput,
        200,
        serializers.BulkOutput,
    ),
    views.BonusView: (
        "post",
        "cards_bonus",
        "Grant bonus points",
        "One `points_adjusted` ledger row per card, through the ledger service, stamped with "
        "the caller. Inactive cards, stamp-only programmes and unknown numbers are skipped. "
        "For thousands of cards, start a background bonus (`bonus-jobs/`).",
        serializers.BonusInput,
        200,
        serializers.BulkOutput,
    ),
    views.BonusJobsView: (
        "post",
        "bonus_jobs",
        "Start a background bonus",
        "For up to 20,000 cards: 202 with the job, which grants the bonus 500 cards a task, "
        "one ledger row per card through the ledger service. Numbers that name no card of "
        "the merchant are counted in `skipped`; 404 when none does.",
        serializers.BonusJobInput,
        202,
        serializers.BonusJobOutput,
    ),
    views.BonusJobView: (
        "get",
        "bonus_job",
        "A background bonus's progress",
        "`processed` of `total` cards, how many changed, which were skipped and why.",
        None,
        200,
        serializers.BonusJobOutput,
    ),
    views.RestorePointsView: (
        "post",
        "card_restore_points",
        "Restore points",
        "Give back points a card lost wrongly (an expiry, a mistaken void): one "
        "`points_adjusted` ledger row and an audit entry. 409 `card_inactive` for an inactive "
        "card.",
        serializers.RestorePointsInput,
        201,
        LedgerOperationOutput,
    ),
    views.PinsView: (
        "post",
        "store_pins",
        "Assign staff PINs",
        "Create or reset up to 500 staff PINs of a store (a reset unlocks the PIN). Malformed "
        "PINs, PINs another staff member has and names given twice are skipped with why.",
        serializers.PinsInput,
        200,
        serializers.BulkOutput,
    ),
    views.CustomerView: (
        "delete",
        "customer_anonymise",
        "Anonymise a customer",
        "GDPR erasure, irreversible: personal fields scrubbed, cards kept with their ledger "
        "but unlinked, queued emails cancelled, stored terminal answers scrubbed, an audit "
        "entry. 409 `already_anonymised` the second time. An optional body gives a `reason`.",
        serializers.AnonymiseInput,
        200,
        serializers.AnonymisedOutput,
    ),
}


def mounted(view_class, *, on_behalf: bool):
    """The view for one of the two APIs, with its schema."""
    method, name, summary, description, request, status, response = OPERATIONS[view_class]
    prefix, tag = ("admin", "Loyalty - Admin") if on_behalf else ("merchant", "Loyalty - Merchant")
    responses = {status: response, **ERRORS}
    if method in ("post", "delete") and status not in (201, 202):
        responses[409] = _error("`already_anonymised`, or another refusal of the operation.")
    elif status == 201:
        responses[409] = _error("`card_inactive`, `points_not_enabled`.")
    documented = extend_schema(
        operation_id=f"{prefix}_{name}",
        tags=[tag],
        summary=summary,
        description=description,
        request=request,
        parameters=[MERCHANT_ID] if on_behalf else [],
        responses=responses,
    )
    handler = getattr(view_class, method)

    def call(self, request, *args, **kwargs):
        return handler(self, request, *args, **kwargs)

    call.__doc__ = handler.__doc__
    return type(
        f"{'Admin' if on_behalf else 'Merchant'}{view_class.__name__}",
        (view_class,),
        {"on_behalf": on_behalf, method: documented(call)},
    )


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "rest_framework.authentication.TokenAuthentication"
    name = "Token"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`: a user's API token, issued by an operator in the "
            "admin (Auth Token › Tokens).",
        }
