"""Terminal API: thin viewsets over the ledger services.

Each mutating action validates its input, finds what it acts on inside the terminal's
merchant, checks the staff PIN and calls one service inside `run_in_transaction`; `run_once`
makes it idempotent under an `Idempotency-Key`.
"""

import re
from collections.abc import Callable

from django.db.models import F
from django.http import HttpResponse, JsonResponse
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from loyalty import card_numbers
from loyalty.api import schema
from loyalty.api.authentication import HasTerminalKey, TerminalKeyAuthentication
from loyalty.api.errors import error_response
from loyalty.api.ratelimits import check_rate_limit
from loyalty.api.serializers import (
    MAX_ID,
    AdjustInput,
    CardOutput,
    EarnInput,
    EnrollmentInput,
    EnrollmentOutput,
    ProgramOutput,
    RedeemInput,
    StaffInput,
    StaffPinOutput,
    StampsInput,
    TerminalOutput,
    TerminalUnlockInput,
    TransactionOutput,
    VoidInput,
    ledger_operation_body,
)
from loyalty.errors import (
    IdempotencyKeyInProgress,
    InvalidInput,
    NoLiveProgram,
    NotFound,
    RewardUnavailable,
)
from loyalty.models import Card, Program, Reward, StaffPin, Transaction
from loyalty.selectors import card_to_change
from loyalty.services import ledger
from loyalty.services.contention import run_in_transaction
from loyalty.services.idempotency import (
    StoredResponse,
    claim_idempotency_key,
    record_response,
    release_idempotency_key,
    request_digest,
)
from loyalty.services.staff_pins import (
    authorize_terminal_staff,
    unlock_staff_pin,
    unlock_terminal,
    verify_staff_pin,
)

_IDEMPOTENCY_KEY_SHAPE = re.compile(r"[\x21-\x7e]{1,255}")
_renderer = JSONRenderer()


class TransactionPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class TerminalViewSet(viewsets.ViewSet):
    authentication_classes = [TerminalKeyAuthentication]
    permission_classes = [HasTerminalKey]
    # Action name -> key of settings.TERMINAL_RATE_LIMITS.
    rate_limits: dict[str, str] = {}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        scope = self.rate_limits.get(self.action)
        if scope is not None:
            check_rate_limit(request, scope)

    @property
    def terminal_key(self):
        return self.request.auth

    @property
    def store(self):
        return self.request.auth.store

    def live_program(self) -> Program:
        program = Program.objects.filter(merchant_id=self.store.merchant_id).first()
        if program is None:
            raise NoLiveProgram()
        return program

    def validated(self, serializer_class, request) -> dict:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def staff(self, program: Program | None, data: dict, *, manager: bool = False):
        staff_pin = authorize_terminal_staff(
            terminal_key=self.terminal_key,
            program=program,
            pin=data.get("staff_pin"),
            staff_id=data.get("staff_id"),
            manager=manager,
        )
        return ledger.Actor(staff_pin=staff_pin)

    def run_once(self, request, prepare: Callable[[], Callable[[], dict]], status: int = 201):
        """Answer a POST: `prepare()` validates, looks up and checks the PIN, and returns the
        write, which runs in one transaction together with the idempotency record.

        The same Idempotency-Key and request replay the first response byte for byte."""
        claim = self._claim(request)
        if isinstance(claim, StoredResponse):
            return _json_response(claim.body, claim.status)
        try:
            write = prepare()

            def write_and_record():
                body = _render(write())
                if claim is not None and not record_response(claim=claim, status=status, body=body):
                    raise IdempotencyKeyInProgress()
                return body

            body = run_in_transaction(write_and_record)
        except Exception as exc:
            if claim is not None:
                response = error_response(exc)
                if response is None:
                    release_idempotency_key(claim=claim)
                else:
                    record_response(
                        claim=claim, status=response.status_code, body=_render(response.data)
                    )
            raise
        return _json_response(body, status)

    def _claim(self, request):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return None
        if not _IDEMPOTENCY_KEY_SHAPE.fullmatch(key):
            raise InvalidInput(
                "Idempotency-Key must be 1 to 255 printable ASCII characters.",
                fields={"Idempotency-Key": ["invalid"]},
            )
        digest = request_digest(method=request.method, path=request.path, body=request.body)
        return claim_idempotency_key(terminal_key=self.terminal_key, key=key, request_digest=digest)


def _render(data) -> str:
    return _renderer.render(data).decode()


def _json_response(body: str, status: int) -> HttpResponse:
    # Rendered once, and kept as is for replays.
    return HttpResponse(body, status=status, content_type="application/json")


def _card_number(raw: str) -> str:
    # A mistyped number (wrong check digit) cannot be any card: not found, without a query.
    number = card_numbers.normalize(raw)
    if number is None:
        raise NotFound("Card not found.")
    return number


def _parse_id(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise NotFound()
    return int(raw)


def _ledger_operation(entry: Transaction, store) -> dict:
    card = entry.card
    if card.enrolled_store_id == store.pk:
        # Most cards are used where they were enrolled: no query for what we hold.
        card.enrolled_store = store
    return ledger_operation_body(entry, card)


class ProgramViewSet(TerminalViewSet):
    rate_limits = {"show": "program"}

    @schema.program
    def show(self, request):
        program = self.live_program()
        return Response(ProgramOutput(program, context={"store": self.store}).data)


class EnrollmentViewSet(TerminalViewSet):
    rate_limits = {"create": "enroll"}

    @schema.enroll
    def create(self, request):
        def prepare():
            data = self.validated(EnrollmentInput, request)
            program = self.live_program()
            actor = self.staff(program, data)

            def write():
                card = ledger.enroll_customer(
                    program=program,
                    store=self.store,
                    email=data["email"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    phone=data["phone"],
                    birth_date=data["birth_date"],
                    locale=data["locale"],
                    marketing_consent=data["marketing_consent"],
                    actor=actor,
                )
                return EnrollmentOutput(card).data

            return write

        return self.run_once(request, prepare)


class CardViewSet(TerminalViewSet):
    lookup_field = "number"
    lookup_value_regex = "[^/]+"
    rate_limits = {
        "retrieve": "read",
        "transactions": "read",
        "earn": "earn",
        "redeem": "redeem",
        "adjust": "adjust",
        "add_stamps": "stamps",
        "redeem_stamps": "stamps_redeem",
    }

    def get_card(self, number: str) -> Card:
        card = (
            Card.objects.select_related("program", "enrolled_store", "customer")
            .filter(number=_card_number(number), program__merchant_id=self.store.merchant_id)
            .first()
        )
        if card is None:
            raise NotFound("Card not found.")
        return card

    def card_to_change(self, number: str) -> tuple[Card, Program]:
        found = card_to_change(number=_card_number(number), merchant_id=self.store.merchant_id)
        if found is None:
            raise NotFound("Card not found.")
        return found

    @schema.card
    def retrieve(self, request, number=None):
        return Response(CardOutput(self.get_card(number)).data)

    @schema.card_transactions
    @action(detail=True, methods=["get"])
    def transactions(self, request, number=None):
        card = self.get_card(number)
        entries = (
            Transaction.objects.filter(card=card)
            .select_related("store")
            .annotate(voided_by_pk=F("voided_by__id"))
            .order_by("-id")
        )
        paginator = TransactionPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(TransactionOutput(page, many=True).data)

    @schema.earn
    @action(detail=True, methods=["post"], url_path="points/earn")
    def earn(self, request, number=None):
        def prepare():
            data = self.validated(EarnInput, request)
            card, program = self.card_to_change(number)
            actor = self.staff(program, data)
            return lambda: _ledger_operation(
                ledger.earn_points(
                    card=card,
                    store=self.store,
                    purchase_amount_cents=data.get("purchase_amount_cents"),
                    points=data.get("points"),
                    order_reference=data["order_reference"],
                    actor=actor,
                ),
                self.store,
            )

        return self.run_once(request, prepare)

    @schema.redeem
    @action(detail=True, methods=["post"], url_path="points/redeem")
    def redeem(self, request, number=None):
        def prepare():
            data = self.validated(RedeemInput, request)
            card, program = self.card_to_change(number)
            reward = None
            if "reward_id" in data:
                reward = Reward.objects.filter(pk=data["reward_id"], program=program).first()
                if reward is None:
                    raise RewardUnavailable()
            actor = self.staff(program, data)
            return lambda: _ledger_operation(
                ledger.redeem_points(
                    card=card,
                    store=self.store,
                    points=data.get("points"),
                    reward=reward,
                    actor=actor,
                ),
                self.store,
            )

        return self.run_once(request, prepare)

    @schema.adjust
    @action(detail=True, methods=["post"], url_path="points/adjust")
    def adjust(self, request, number=None):
        def prepare():
            data = self.validated(AdjustInput, request)
            card, program = self.card_to_change(number)
            actor = self.staff(program, data, manager=True)
            return lambda: _ledger_operation(
                ledger.adjust_points(
                    card=card,
                    store=self.store,
                    points=data["points"],
                    reason=data["reason"],
                    actor=actor,
                ),
                self.store,
            )

        return self.run_once(request, prepare)

    @schema.add_stamps
    @action(detail=True, methods=["post"], url_path="stamps")
    def add_stamps(self, request, number=None):
        def prepare():
            data = self.validated(StampsInput, request)
            card, program = self.card_to_change(number)
            actor = self.staff(program, data)
            return lambda: _ledger_operation(
                ledger.add_stamps(card=card, store=self.store, count=data["count"], actor=actor),
                self.store,
            )

        return self.run_once(request, prepare)

    @schema.redeem_stamps
    @action(detail=True, methods=["post"], url_path="stamps/redeem")
    def redeem_stamps(self, request, number=None):
        def prepare():
            data = self.validated(StaffInput, request)
            card, program = self.card_to_change(number)
            actor = self.staff(program, data)
            return lambda: _ledger_operation(
                ledger.redeem_stamps(card=card, store=self.store, actor=actor),
                self.store,
            )

        return self.run_once(request, prepare)


class TransactionViewSet(TerminalViewSet):
    lookup_value_regex = "[^/]+"
    rate_limits = {"void": "void"}

    @schema.void
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        def prepare():
            data = self.validated(VoidInput, request)
            entry = (
                Transaction.objects.select_related("card__program")
                .filter(pk=_parse_id(pk), merchant_id=self.store.merchant_id)
                .first()
            )
            if entry is None:
                raise NotFound("Transaction not found.")
            actor = self.staff(entry.card.program, data)
            return lambda: _ledger_operation(
                ledger.void_transaction(
                    entry=entry, store=self.store, reason=data["reason"], actor=actor
                ),
                self.store,
            )

        return self.run_once(request, prepare)


class StaffPinViewSet(TerminalViewSet):
    lookup_value_regex = "[^/]+"
    rate_limits = {"unlock": "unlock"}

    @schema.unlock
    @action(detail=True, methods=["post"])
    def unlock(self, request, pk=None):
        def prepare():
            data = self.validated(StaffInput, request)
            staff_pin = (
                StaffPin.objects.select_related("store")
                .filter(pk=_parse_id(pk), store_id=self.store.pk, is_active=True)
                .first()
            )
            if staff_pin is None:
                raise NotFound("Staff PIN not found.")
            self.staff(None, data, manager=True)
            return lambda: StaffPinOutput(unlock_staff_pin(staff_pin=staff_pin)).data

        return self.run_once(request, prepare, status=200)


class TerminalUnlockViewSet(TerminalViewSet):
    rate_limits = {"unlock": "unlock"}

    @schema.unlock_terminal
    def unlock(self, request):
        def prepare():
            data = self.validated(TerminalUnlockInput, request)
            manager = verify_staff_pin(
                terminal_key=self.terminal_key,
                pin=data["staff_pin"],
                staff_id=data["staff_id"],
                manager=True,
                unlocking_terminal=True,
            )
            return lambda: (
                TerminalOutput(
                    unlock_terminal(terminal_key=self.terminal_key, manager=manager)
                ).data
            )

        return self.run_once(request, prepare, status=200)


def unknown_endpoint(request, *args, **kwargs):
    """Any other path under the terminal API: a JSON 404 like every other error."""
    return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
