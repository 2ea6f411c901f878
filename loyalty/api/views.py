"""Terminal API: thin viewsets over the ledger services.

Each mutating action validates its input, finds what it acts on inside the terminal's
merchant, checks the staff PIN, calls one service and answers with the output serializers;
`one_transaction` runs all of it, with the Idempotency-Key's record, in one database
transaction.
"""

from django.db.models import F
from django.http import JsonResponse
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from loyalty import card_numbers, metrics
from loyalty.api import schema
from loyalty.api.authentication import HasTerminalKey, TerminalKeyAuthentication
from loyalty.api.ratelimits import check_rate_limit
from loyalty.api.serializers import (
    MAX_ID,
    AdjustInput,
    CardOutput,
    EarnInput,
    EnrollmentInput,
    EnrollmentOutput,
    LedgerOperationOutput,
    ProgramOutput,
    RedeemInput,
    StaffInput,
    StaffPinOutput,
    StampsInput,
    TerminalOutput,
    TerminalUnlockInput,
    TransactionOutput,
    VoidInput,
)
from loyalty.api.transactions import one_transaction
from loyalty.errors import NoLiveProgram, NotFound
from loyalty.models import Card, Program, StaffPin, Transaction, TransactionType
from loyalty.selectors import card_by_number
from loyalty.services import ledger
from loyalty.services.staff_pins import (
    authorize_terminal_staff,
    unlock_staff_pin,
    unlock_terminal,
    verify_staff_pin,
)


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

    def validated(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
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

    def card(self, number: str) -> Card:
        """The card to show, with everything its answer shows."""
        card = card_by_number(number=self.card_number(number), merchant_id=self.store.merchant_id)
        if card is None:
            raise NotFound("Card not found.")
        return card

    def card_to_change(self, number: str) -> Card:
        """The card a ledger service will lock and read again, with its programme's PIN rule."""
        card = (
            Card.objects.select_related("program")
            .filter(number=self.card_number(number), program__merchant_id=self.store.merchant_id)
            .first()
        )
        if card is None:
            raise NotFound("Card not found.")
        return card

    def card_number(self, raw: str) -> str:
        # A mistyped number (wrong check digit) cannot be any card: not found, without a query.
        number = card_numbers.normalize(raw)
        if number is None:
            raise NotFound("Card not found.")
        return number

    def ledger_answer(self, entry: Transaction) -> dict:
        metrics.count_ledger_row(store=self.store, type=entry.type)
        return LedgerOperationOutput({"transaction": entry, "card": entry.card}).data


def _parse_id(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise NotFound()
    return int(raw)


class ProgramViewSet(TerminalViewSet):
    rate_limits = {"show": "program"}

    @schema.program
    def show(self, request):
        program = self.live_program()
        return Response(ProgramOutput(program, context={"store": self.store}).data)


class EnrollmentViewSet(TerminalViewSet):
    rate_limits = {"create": "enroll"}

    @schema.enroll
    @one_transaction()
    def create(self, request):
        data = self.validated(EnrollmentInput)
        program = self.live_program()
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
            actor=self.staff(program, data),
        )
        answer = EnrollmentOutput(card).data
        if answer["welcome_bonus_points"]:
            metrics.count_ledger_row(store=self.store, type=TransactionType.WELCOME_BONUS)
        return answer


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

    @schema.card
    def retrieve(self, request, number=None):
        return Response(CardOutput(self.card(number)).data)

    @schema.card_transactions
    @action(detail=True, methods=["get"])
    def transactions(self, request, number=None):
        card = self.card(number)
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
    @one_transaction()
    def earn(self, request, number=None):
        data = self.validated(EarnInput)
        card = self.card_to_change(number)
        entry = ledger.earn_points(
            card=card,
            store=self.store,
            purchase_amount_cents=data.get("purchase_amount_cents"),
            points=data.get("points"),
            order_reference=data["order_reference"],
            actor=self.staff(card.program, data),
        )
        return self.ledger_answer(entry)

    @schema.redeem
    @action(detail=True, methods=["post"], url_path="points/redeem")
    @one_transaction()
    def redeem(self, request, number=None):
        data = self.validated(RedeemInput)
        card = self.card_to_change(number)
        entry = ledger.redeem_points(
            card=card,
            store=self.store,
            points=data.get("points"),
            reward_id=data.get("reward_id"),
            actor=self.staff(card.program, data),
        )
        return self.ledger_answer(entry)

    @schema.adjust
    @action(detail=True, methods=["post"], url_path="points/adjust")
    @one_transaction()
    def adjust(self, request, number=None):
        data = self.validated(AdjustInput)
        card = self.card_to_change(number)
        entry = ledger.adjust_points(
            card=card,
            store=self.store,
            points=data["points"],
            reason=data["reason"],
            actor=self.staff(card.program, data, manager=True),
        )
        return self.ledger_answer(entry)

    @schema.add_stamps
    @action(detail=True, methods=["post"], url_path="stamps")
    @one_transaction()
    def add_stamps(self, request, number=None):
        data = self.validated(StampsInput)
        card = self.card_to_change(number)
        entry = ledger.add_stamps(
            card=card, store=self.store, count=data["count"], actor=self.staff(card.program, data)
        )
        return self.ledger_answer(entry)

    @schema.redeem_stamps
    @action(detail=True, methods=["post"], url_path="stamps/redeem")
    @one_transaction()
    def redeem_stamps(self, request, number=None):
        data = self.validated(StaffInput)
        card = self.card_to_change(number)
        entry = ledger.redeem_stamps(
            card=card, store=self.store, actor=self.staff(card.program, data)
        )
        return self.ledger_answer(entry)


class TransactionViewSet(TerminalViewSet):
    lookup_value_regex = "[^/]+"
    rate_limits = {"void": "void"}

    @schema.void
    @action(detail=True, methods=["post"])
    @one_transaction()
    def void(self, request, pk=None):
        data = self.validated(VoidInput)
        entry = (
            Transaction.objects.select_related("card__program")
            .filter(pk=_parse_id(pk), merchant_id=self.store.merchant_id)
            .first()
        )
        if entry is None:
            raise NotFound("Transaction not found.")
        reversal = ledger.void_transaction(
            entry=entry,
            store=self.store,
            reason=data["reason"],
            actor=self.staff(entry.card.program, data),
        )
        return self.ledger_answer(reversal)


class StaffPinViewSet(TerminalViewSet):
    lookup_value_regex = "[^/]+"
    rate_limits = {"unlock": "unlock"}

    @schema.unlock
    @action(detail=True, methods=["post"])
    @one_transaction(status=200)
    def unlock(self, request, pk=None):
        data = self.validated(StaffInput)
        staff_pin = (
            StaffPin.objects.select_related("store")
            .filter(pk=_parse_id(pk), store_id=self.store.pk, is_active=True)
            .first()
        )
        if staff_pin is None:
            raise NotFound("Staff PIN not found.")
        self.staff(None, data, manager=True)
        return StaffPinOutput(unlock_staff_pin(staff_pin=staff_pin)).data


class TerminalUnlockViewSet(TerminalViewSet):
    rate_limits = {"unlock": "unlock"}

    @schema.unlock_terminal
    @one_transaction(status=200)
    def unlock(self, request):
        data = self.validated(TerminalUnlockInput)
        manager = verify_staff_pin(
            terminal_key=self.terminal_key,
            pin=data["staff_pin"],
            staff_id=data["staff_id"],
            manager=True,
            unlocking_terminal=True,
        )
        return TerminalOutput(unlock_terminal(terminal_key=self.terminal_key, manager=manager)).data


def unknown_endpoint(request, *args, **kwargs):
    """Any other path under the terminal API: a JSON 404 like every other error."""
    return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
