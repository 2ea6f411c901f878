"""The operator admin, one module per area; importing them registers their admins."""

from loyalty.admin import (
    cards,
    customers,
    jobs,
    ledger,
    merchants,
    pins,
    programs,
    terminals,
)
from loyalty.admin.ledger import LedgerPaginator

__all__ = [
    "LedgerPaginator",
    "cards",
    "customers",
    "jobs",
    "ledger",
    "merchants",
    "pins",
    "programs",
    "terminals",
]
