"""Reads shared by several callers."""

from django.db import connection

from loyalty.models import Card, Program

_CARD_TO_CHANGE_SQL = f"""
    SELECT card.id, card.program_id, program.require_staff_pin
    FROM {Card._meta.db_table} card
    JOIN {Program._meta.db_table} program ON program.id = card.program_id
    WHERE card.number = %s AND card.deleted_at IS NULL AND program.merchant_id = %s
"""


def card_to_change(*, number: str, merchant_id: int) -> tuple[Card, Program] | None:
    """The merchant's live card with this (normalised) number, as a reference for a ledger
    service, which locks and reads the card again; and its programme's PIN rule.

    Only what is needed before the lock is read, in SQL: it runs on every terminal
    operation, where the ORM's own cost would be a good part of the time spent."""
    with connection.cursor() as cursor:
        cursor.execute(_CARD_TO_CHANGE_SQL, [number, merchant_id])
        row = cursor.fetchone()
    if row is None:
        return None
    card_id, program_id, require_staff_pin = row
    program = Program(pk=program_id, require_staff_pin=bool(require_staff_pin))
    return Card(pk=card_id, program=program), program
