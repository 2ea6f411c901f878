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
from loyalty.wallet import admin as wallet_admin  # noqa: F401  (registers the wallet's admin)

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
