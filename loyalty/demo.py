"""Demo data for local runs: two merchants, to show that each only sees its own cards."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse

from loyalty import card_links
from loyalty.models import Card, Program, Reward
from loyalty.services import ledger
from loyalty.services.pairing import create_pairing_code, display
from loyalty.services.staff_pins import set_staff_pin
from loyalty.services.terminal_keys import issue_terminal_key, revoke_terminal_keys
from merchants.models import DEFAULT_BRAND_COLOR, Merchant, Store

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"
DEMO_TERMINAL_NAME = "demo terminal"
STAFF_PIN = "1234"
MANAGER_PIN = "9876"

MERCHANTS = [
    {
        "slug": "demo-bakery",
        "name": "Demo Bakery",
        "brand_color": "#9a3412",
        "program": {
            "name": "Bread Club",
            "kind": Program.Kind.HYBRID,
            "points_per_euro": Decimal("1"),
            "welcome_bonus_points": 50,
            "stamps_target": 8,
            "reward_description": "A free loaf of your choice",
            "terms_text": "One card per person. Points have no cash value and cannot be "
            "exchanged for money. Demo Bakery may change these terms with a month's notice.",
            "allow_cross_location_redemption": True,
            "require_staff_pin": True,
        },
        "rewards": [("Croissant", 100), ("Birthday cake", 500)],
        "customers": [
            ("ana@example.com", "Ana", "Ferreira", [2350, 1280, 890]),
            ("ben@example.com", "Ben", "Schmit", [4500]),
            ("chloe@example.com", "Chloé", "Muller", [780, 1520]),
        ],
    },
    {
        "slug": "demo-books",
        "name": "Demo Books",
        "brand_color": "#0f766e",
        "program": {
            "name": "Readers' Points",
            "kind": Program.Kind.POINTS,
            "points_per_euro": Decimal("2"),
            "minimum_purchase_cents": 500,
            "welcome_bonus_points": 20,
            "points_expiration_days": 365,
            "terms_text": "One card per person and store. Points expire after a year without "
            "purchases. Points have no cash value.",
            "allow_cross_location_redemption": False,
            "require_staff_pin": True,
        },
        "rewards": [("Tote bag", 150), ("€10 voucher", 400)],
        "customers": [
            ("dana@example.com", "Dana", "Weber", [3999, 2450]),
            ("eli@example.com", "Eli", "Hoffmann", [12900]),
            ("ana@example.com", "Ana", "Ferreira", [1850]),
        ],
    },
]


@dataclass
class DemoResult:
    admin_username: str = ADMIN_USERNAME
    admin_password: str = ADMIN_PASSWORD
    terminal_keys: dict[str, str] = field(default_factory=dict)
    staff_pin: str = STAFF_PIN
    manager_pin: str = MANAGER_PIN
    cards: dict[str, list[str]] = field(default_factory=dict)
    # Per merchant, its enrolment page and the card page of its first demo card.
    enrollment_paths: dict[str, str] = field(default_factory=dict)
    card_paths: dict[str, str] = field(default_factory=dict)
    # A code that pairs a counter tablet with the bakery's main store (10 minutes).
    pairing_code: str = ""


def _store(merchant: Merchant, code: str, name: str) -> Store:
    store, _ = Store.all_objects.get_or_create(
        merchant=merchant, code=code, defaults={"name": name}
    )
    return store


@transaction.atomic
def load_demo() -> DemoResult:
    """Create what is missing and leave what exists; a fresh terminal key on every run,
    since the old one cannot be shown again."""
    result = DemoResult()
    User = get_user_model()
    if not User.objects.filter(username=ADMIN_USERNAME).exists():
        User.objects.create_superuser(ADMIN_USERNAME, "admin@localhost", ADMIN_PASSWORD)

    for spec in MERCHANTS:
        merchant, _ = Merchant.all_objects.get_or_create(
            slug=spec["slug"], defaults={"name": spec["name"], "timezone": "Europe/Luxembourg"}
        )
        if merchant.brand_color == DEFAULT_BRAND_COLOR:
            merchant.brand_color = spec["brand_color"]
            merchant.save(update_fields=["brand_color"])
        main = _store(merchant, "main", f"{spec['name']} – Main Street")
        north = _store(merchant, "north", f"{spec['name']} – North")
        program = Program.objects.filter(merchant=merchant).first()
        if program is None:
            program = Program.objects.create(merchant=merchant, **spec["program"])
            for name, cost in spec["rewards"]:
                Reward.objects.create(program=program, name=name, points_cost=cost)

        for store in (main, north):
            set_staff_pin(store=store, staff_name="Sam (staff)", pin=STAFF_PIN)
            set_staff_pin(
                store=store, staff_name="Morgan (manager)", pin=MANAGER_PIN, is_manager=True
            )

        numbers = []
        for index, (email, first, last, purchases) in enumerate(spec["customers"]):
            store = main if index % 2 == 0 else north
            card = Card.objects.filter(program=program, customer__email=email).first()
            if card is None:
                card = ledger.enroll_customer(
                    program=program, store=store, email=email, first_name=first, last_name=last
                )
                for cents in purchases:
                    ledger.earn_points(card=card, store=store, purchase_amount_cents=cents)
                if program.has_stamps:
                    ledger.add_stamps(card=card, store=store, count=len(purchases) + 3)
            numbers.append(card.number)
            result.card_paths.setdefault(merchant.slug, card_links.card_path(card.link_key))
        result.cards[merchant.slug] = numbers
        result.enrollment_paths[merchant.slug] = reverse(
            "pages:enroll", kwargs={"slug": merchant.slug}
        )

        revoke_terminal_keys(store=main, name=DEMO_TERMINAL_NAME)
        _, key = issue_terminal_key(store=main, name=DEMO_TERMINAL_NAME)
        result.terminal_keys[merchant.slug] = key
        if not result.pairing_code:
            _, code = create_pairing_code(store=main, terminal_name="Counter tablet")
            result.pairing_code = display(code)
    return result
