import json

from django.db import connection, transaction
from django.urls import path
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns


class Ceiling(APIView):
    """What the framework costs on its own: no authentication, no database."""

    authentication_classes = []
    permission_classes = []
    schema = None

    def get(self, request):
        return Response({"ok": True})


class BareEarn(APIView):
    """A bare hand-written SQL earn through DRF: lock the card, update it, insert the ledger
    row. No key, PIN, idempotency, rate limit or rules: the floor under the real earn."""

    authentication_classes = []
    permission_classes = []
    schema = None

    def post(self, request, number):
        points = int(json.loads(request.body)["purchase_amount_cents"]) // 100
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT card.id, card.points_balance, program.merchant_id, card.enrolled_store_id"
                " FROM loyalty_card card JOIN loyalty_program program"
                " ON program.id = card.program_id WHERE card.number = %s FOR UPDATE OF card",
                [number],
            )
            card_id, balance, merchant_id, store_id = cursor.fetchone()
            cursor.execute(
                "UPDATE loyalty_card SET points_balance = %s, last_activity_at = %s WHERE id = %s",
                [balance + points, now, card_id],
            )
            cursor.execute(
                "INSERT INTO loyalty_transaction (card_id, merchant_id, store_id, type,"
                " points_delta, points_balance_after, stamps_delta, stamps_balance_after,"
                " order_reference, reason, notes, created_at)"
                " VALUES (%s, %s, %s, 'points_earned', %s, %s, 0, 0, '', '', '', %s)"
                " RETURNING id",
                [card_id, merchant_id, store_id, points, balance + points, now],
            )
            entry_id = cursor.fetchone()[0]
        return Response({"id": entry_id, "points_balance": balance + points}, status=201)


urlpatterns = [
    path("bench/ceiling/", Ceiling.as_view()),
    path("bench/bare-earn/<str:number>/", BareEarn.as_view()),
    *project_urlpatterns,
]
