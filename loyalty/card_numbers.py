"""Card numbers: 12 digits, the last a Luhn check digit, printed as three groups of four.

Luhn rejects every single mistyped digit and most swaps of adjacent digits, so a terminal
can refuse a mistyped number before it looks anything up.
"""

import re
import secrets

LENGTH = 12
_SEPARATORS = re.compile(r"[\s-]")


def luhn_check_digit(payload: str) -> str:
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def generate() -> str:
    # The first digit is never 0, so the number survives tools that drop leading zeros.
    payload = str(secrets.randbelow(9) + 1) + "".join(
        str(secrets.randbelow(10)) for _ in range(LENGTH - 2)
    )
    return payload + luhn_check_digit(payload)


def normalize(raw: str) -> str | None:
    """The canonical number for what a person typed, or None if it cannot be a card number."""
    number = _SEPARATORS.sub("", raw or "")
    if len(number) != LENGTH or not number.isascii() or not number.isdigit():
        return None
    if luhn_check_digit(number[:-1]) != number[-1]:
        return None
    return number


def display(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
