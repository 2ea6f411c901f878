from loyalty.models import TerminalKey
from merchants.models import Store


def issue_terminal_key(*, store: Store, name: str) -> tuple[TerminalKey, str]:
    """A new key for a terminal of the store. The key itself is returned once and never
    stored: only its digest is."""
    return TerminalKey.objects.create_key(name=name, store=store)


def revoke_terminal_keys(*, store: Store, name: str) -> int:
    return TerminalKey.objects.filter(store=store, name=name, revoked=False).update(revoked=True)
