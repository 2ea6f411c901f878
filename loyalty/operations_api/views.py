"""The operations API: thin views over the services the admin uses. Each validates its
input, finds what it acts on inside the caller's merchant (unknown or foreign rows are 404,
or skipped with a reason in bulk), calls one service and answers."""

from django.db.models import Q
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from customers.models import Customer
from loyalty import card_numbers
from loyalty.api.serializers import LedgerOperationOutput
from loyalty.errors import NotFound
from loyalty.models import BulkBonusJob, Card
from loyalty.operations_api import serializers
from loyalty.operations_api.access import OperationsView
from loyalty.services import bulk_bonus, card_operations, pin_assignment
from loyalty.services.anonymisation import anonymise_customer
from merchants.models import Store


class CardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class CardsView(OperationsView):
    def cards(self) -> "Card.objects":
        """The caller's merchant's cards (their store's, for store staff), trash included."""
        cards = Card.all_objects.select_related("program", "enrolled_store", "customer").filter(
            program__merchant_id=self.merchant_id()
        )
        store_id = self.scope.store_id
        return cards.filter(enrolled_store_id=store_id) if store_id else cards

    def validated(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def selected(self, numbers: list[str]) -> tuple[list[Card], dict[str, str]]:
        """The cards named, and the numbers that name none of the caller's cards."""
        wanted = {}
        unknown = {}
        for raw in numbers:
            number = card_numbers.normalize(raw)
            if number is None:
                unknown[raw] = "not a card number"
            else:
                wanted[number] = raw
        found = list(self.cards().filter(number__in=wanted).order_by("pk"))
        found_numbers = {card.number for card in found}
        for number, raw in wanted.items():
            if number not in found_numbers:
                unknown[raw] = "not found"
        return found, unknown

    def bulk_answer(self, outcome, unknown: dict[str, str]) -> Response:
        outcome.skipped.update(unknown)
        return Response(serializers.BulkOutput(outcome).data)


class CardSearchView(CardsView):
    def get(self, request, *args, **kwargs):
        """Cards by exact number, or by customer email or name (contains)."""
        cards = self.cards().order_by("-pk")
        query = request.query_params.get("q", "").strip()[:100]
        if query:
            number = card_numbers.normalize(query)
            matches = (
                Q(customer__email__icontains=query)
                | Q(customer__first_name__icontains=query)
                | Q(customer__last_name__icontains=query)
            )
            if number is not None:
                matches |= Q(number=number)
            cards = cards.filter(matches)
        paginator = CardPagination()
        page = paginator.paginate_queryset(cards, request, view=self)
        return paginator.get_paginated_response(serializers.CardSearchOutput(page, many=True).data)


class DeactivateView(CardsView):
    def post(self, request, *args, **kwargs):
        data = self.validated(serializers.DeactivateInput)
        cards, unknown = self.selected(data["numbers"])
        outcome = card_operations.deactivate_cards(
            cards=cards, reason=data["reason"], user=request.user
        )
        return self.bulk_answer(outcome, unknown)


class ReactivateView(CardsView):
    def post(self, request, *args, **kwargs):
        data = self.validated(serializers.ReactivateInput)
        cards, unknown = self.selected(data["numbers"])
        outcome = card_operations.reactivate_cards(
            cards=cards, reason=data["reason"], user=request.user
        )
        return self.bulk_answer(outcome, unknown)


class BonusView(CardsView):
    def post(self, request, *args, **kwargs):
        data = self.validated(serializers.BonusInput)
        cards, unknown = self.selected(data["numbers"])
        outcome = card_operations.grant_bonus(
            cards=cards, points=data["points"], reason=data["reason"], user=request.user
        )
        return self.bulk_answer(outcome, unknown)


class BonusJobsView(CardsView):
    def post(self, request, *args, **kwargs):
        """Start a background bonus for many cards; follow it at `bonus-jobs/{id}/`."""
        data = self.validated(serializers.BonusJobInput)
        wanted = {card_numbers.normalize(raw) for raw in data["numbers"]} - {None}
        card_ids = list(self.cards().filter(number__in=wanted).values_list("pk", flat=True))
        if not card_ids:
            raise NotFound("None of these cards was found.")
        job = bulk_bonus.start_bulk_bonus(
            merchant_id=self.merchant_id(),
            card_ids=card_ids,
            points=data["points"],
            reason=data["reason"],
            user=request.user,
        )
        # Numbers that name no card of the merchant are left out of the job: say how many.
        not_found = len(data["numbers"]) - len(card_ids)
        if not_found:
            job.skipped = {f"{not_found} number(s)": "not found"}
            BulkBonusJob.objects.filter(pk=job.pk).update(skipped=job.skipped)
        return Response(serializers.BonusJobOutput(job).data, status=202)


class BonusJobView(CardsView):
    def get(self, request, job_id, *args, **kwargs):
        job = BulkBonusJob.objects.filter(pk=job_id, merchant_id=self.merchant_id()).first()
        if job is None or (self.scope.store_id and job.requested_by_id != request.user.pk):
            raise NotFound("Bonus job not found.")
        return Response(serializers.BonusJobOutput(job).data)


class RestorePointsView(CardsView):
    def post(self, request, number, *args, **kwargs):
        data = self.validated(serializers.RestorePointsInput)
        normalized = card_numbers.normalize(number)
        card = self.cards().filter(number=normalized).first() if normalized else None
        if card is None:
            raise NotFound("Card not found.")
        entry = card_operations.restore_points(
            card=card, points=data["points"], reason=data["reason"], user=request.user
        )
        card = self.cards().get(pk=card.pk)
        return Response(
            LedgerOperationOutput({"transaction": entry, "card": card}).data, status=201
        )


class PinsView(CardsView):
    def post(self, request, code, *args, **kwargs):
        data = self.validated(serializers.PinsInput)
        store = Store.objects.filter(merchant_id=self.merchant_id(), code=code[:32]).first()
        if store is None or not self.scope.covers_store(store.pk):
            raise NotFound("Store not found.")
        entries = [pin_assignment.PinEntry(**entry) for entry in data["pins"]]
        outcome = pin_assignment.assign_pins(store=store, entries=entries, user=request.user)
        return Response(serializers.BulkOutput(outcome).data)


class CustomerView(CardsView):
    def delete(self, request, customer_id, *args, **kwargs):
        """Anonymise the customer (GDPR erasure): irreversible."""
        data = self.validated(serializers.AnonymiseInput) if request.data else {"reason": ""}
        customers = Customer.objects.filter(merchant_id=self.merchant_id())
        if self.scope.store_id:
            customers = customers.filter(cards__enrolled_store_id=self.scope.store_id)
        customer = customers.filter(pk=customer_id).first()
        if customer is None:
            raise NotFound("Customer not found.")
        customer = anonymise_customer(customer=customer, user=request.user, reason=data["reason"])
        return Response(serializers.AnonymisedOutput(customer).data)
