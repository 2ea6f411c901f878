import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from rest_framework_api_key.models import AbstractAPIKey

from customers.models import Customer
from merchants.models import Merchant, Store
from merchants.softdelete import SoftDeleteModel


class Program(SoftDeleteModel):
    class Kind(models.TextChoices):
        POINTS = "points", "Points"
        STAMPS = "stamps", "Stamps"
        HYBRID = "hybrid", "Points and stamps"

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="programs")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.POINTS)
    points_per_euro = models.DecimalField(max_digits=8, decimal_places=4, default=1)
    minimum_purchase_cents = models.PositiveIntegerField(default=0)
    welcome_bonus_points = models.PositiveIntegerField(default=0)
    stamps_target = models.PositiveIntegerField(
        default=10, help_text="Stamps needed for the reward."
    )
    reward_description = models.CharField(max_length=200, blank=True)
    points_expiration_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Days of card inactivity before points expire; empty: never.",
    )
    expiration_warning_days = models.PositiveIntegerField(default=14)
    reengagement_after_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=60,
        help_text="Days without activity before a card gets a re-engagement email (at most "
        "one a quarter, only with marketing consent); empty: never.",
    )
    allow_cross_location_redemption = models.BooleanField(default=True)
    require_staff_pin = models.BooleanField(default=False)
    terms_page = models.SlugField(
        max_length=100, blank=True, help_text="Slug of a flat page holding the terms."
    )
    terms_text = models.TextField(blank=True, help_text="Used when there is no terms page.")
    wallet_logo_url = models.URLField(
        blank=True,
        help_text="Public https address of the logo on the Google Wallet pass (square, at "
        "least 660 px); empty: the platform's logo.",
    )
    wallet_background_color = models.CharField(
        max_length=7,
        default="#1f4e5f",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour like #1f4e5f.")],
        help_text="Background colour of the Google Wallet pass.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["merchant", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant"],
                condition=Q(deleted_at__isnull=True),
                name="one_live_program_per_merchant",
            ),
            models.CheckConstraint(
                condition=Q(points_per_euro__gte=0), name="program_points_per_euro_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(minimum_purchase_cents__gte=0), name="program_minimum_purchase_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(stamps_target__gte=1), name="program_stamps_target_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(welcome_bonus_points__gte=0), name="program_welcome_bonus_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_points(self) -> bool:
        return self.kind in (self.Kind.POINTS, self.Kind.HYBRID)

    @property
    def has_stamps(self) -> bool:
        return self.kind in (self.Kind.STAMPS, self.Kind.HYBRID)


class Reward(models.Model):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="rewards")
    name = models.CharField(max_length=200)
    points_cost = models.PositiveIntegerField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["program", "points_cost"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_cost__gte=1), name="reward_points_cost_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.points_cost} points)"


class Card(SoftDeleteModel):
    class WalletPassState(models.TextChoices):
        NONE = "", "No pass"
        SYNCED = "synced", "Up to date"
        STALE = "stale", "Waiting for an update"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="cards")
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="cards"
    )
    enrolled_store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="cards")
    number = models.CharField(max_length=12, unique=True)
    # The secret behind the customer's card link (loyalty.card_links): random, so a link
    # reveals nothing about the card and cannot be derived from its number or id.
    link_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    points_balance = models.IntegerField(default=0)
    stamp_count = models.IntegerField(default=0)
    lifetime_points_earned = models.BigIntegerField(default=0)
    lifetime_points_redeemed = models.BigIntegerField(default=0)
    lifetime_points_voided = models.BigIntegerField(default=0)
    lifetime_points_expired = models.BigIntegerField(default=0)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    last_expiration_warning_at = models.DateTimeField(null=True, blank=True)
    last_reengagement_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    # On the card row so that the ledger marks the pass stale in the UPDATE it makes anyway;
    # the pass's own record is a WalletPass.
    wallet_pass_state = models.CharField(
        max_length=6, choices=WalletPassState.choices, default="", blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_balance__gte=0), name="card_points_balance_gte_0"
            ),
            models.CheckConstraint(condition=Q(stamp_count__gte=0), name="card_stamp_count_gte_0"),
            # Always true, whatever the cross-location setting; the stricter one-card-per-
            # programme rule is checked by enrol_customer under the customer's row lock.
            models.UniqueConstraint(
                fields=["enrolled_store", "customer"],
                condition=Q(deleted_at__isnull=True),
                name="one_live_card_per_store_and_customer",
            ),
        ]
        indexes = [
            models.Index(fields=["program", "last_activity_at"], name="card_program_activity"),
            # Expiry walks a programme's cards by primary key, chunk after chunk.
            models.Index(fields=["program", "id"], name="card_program_id"),
            # The wallet sync walks the stale passes. Partial, so that a change of a card
            # without a pass still updates its row in place (no index entry changes).
            models.Index(
                fields=["id"],
                condition=Q(wallet_pass_state="stale"),
                name="card_wallet_pass_stale",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class TransactionType(models.TextChoices):
    POINTS_EARNED = "points_earned", "Points earned"
    POINTS_REDEEMED = "points_redeemed", "Points redeemed"
    POINTS_VOIDED = "points_voided", "Points voided"
    POINTS_EXPIRED = "points_expired", "Points expired"
    POINTS_ADJUSTED = "points_adjusted", "Points adjusted"
    WELCOME_BONUS = "welcome_bonus", "Welcome bonus"
    STAMP_EARNED = "stamp_earned", "Stamp earned"
    STAMP_REDEEMED = "stamp_redeemed", "Stamps redeemed"
    STAMP_VOIDED = "stamp_voided", "Stamp voided"


class StaffPin(models.Model):
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="staff_pins")
    staff_name = models.CharField(max_length=100)
    # HMAC-SHA256 of the PIN keyed with settings.PIN_SECRET (see loyalty.pins).
    pin_digest = models.CharField(max_length=64, editable=False)
    is_manager = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["store", "staff_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "staff_name"],
                condition=Q(is_active=True),
                name="one_active_pin_per_staff_name",
            ),
            models.UniqueConstraint(
                fields=["store", "pin_digest"],
                condition=Q(is_active=True),
                name="active_pins_distinct_per_store",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff_name} @ {self.store}"


class Transaction(models.Model):
    """The ledger: append-only. A correction is a new row (a void points at what it reverses);
    on PostgreSQL a trigger refuses DELETE and every UPDATE except clearing notes."""

    # Every index costs each ledger write (and expiry writes them by the hundred thousand), so
    # the ledger keeps only those its reads use: (card, -id) and (merchant, created_at) below.
    # Foreign keys to rarely deleted rows (users, PINs, rewards, stores) go unindexed: a
    # PROTECT check on such a delete scans the ledger instead.
    card = models.ForeignKey(
        Card, on_delete=models.PROTECT, related_name="transactions", db_index=False
    )
    # A copy of the card's merchant, for merchant-wide reads. No database constraint: the
    # card's own constraint already ties the row to its merchant (card -> programme ->
    # merchant, all protected), and a second per-row check would add a fifth to the cost of
    # every ledger insert.
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    store = models.ForeignKey(
        Store,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    type = models.CharField(max_length=20, choices=TransactionType.choices)
    points_delta = models.IntegerField(default=0)
    points_balance_after = models.IntegerField()
    stamps_delta = models.IntegerField(default=0)
    stamps_balance_after = models.IntegerField()
    purchase_amount_cents = models.PositiveIntegerField(null=True, blank=True)
    order_reference = models.CharField(max_length=100, blank=True)
    reward = models.ForeignKey(
        Reward,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    reason = models.CharField(max_length=255, blank=True)
    notes = models.TextField(blank=True)
    staff_pin = models.ForeignKey(
        StaffPin,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    acting_admin = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        help_text="Operator acting on behalf of the merchant.",
    )
    voids = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="voided_by"
    )
    # The instant the operation applied, which the services also give the card's
    # last_activity_at; auto_now_add would replace it with the time of the INSERT.
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["card", "-id"], name="ledger_card_newest"),
            models.Index(fields=["merchant", "created_at"], name="ledger_merchant_created"),
            # The metrics' lifetime figures (loyalty.metrics.figures): small, since these
            # rows are a sliver of the ledger, and they spare a scan of it at every scrape.
            models.Index(
                fields=["merchant", "points_delta"],
                condition=Q(type="points_adjusted", points_delta__gt=0),
                name="ledger_adjusted_up",
            ),
            models.Index(
                fields=["merchant"],
                condition=Q(type="stamp_redeemed"),
                name="ledger_stamps_redeemed",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_balance_after__gte=0), name="ledger_points_after_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(stamps_balance_after__gte=0), name="ledger_stamps_after_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(voids__isnull=True) | ~Q(voids=F("id")), name="ledger_no_self_void"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.points_delta:+d} on {self.card_id}"


class TerminalKey(AbstractAPIKey):
    """One API key per store terminal; only its SHA-512 digest is stored."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="terminal_keys")
    # Every wrong PIN counts against the terminal, whatever the request names (see
    # loyalty.services.staff_pins). A right PIN does not reset this count: otherwise anyone
    # holding one PIN could keep guessing another.
    pin_failures = models.PositiveIntegerField(default=0, editable=False)
    pin_failures_since = models.DateTimeField(null=True, blank=True, editable=False)
    pin_locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The starts of the last two locks: a third lock within a day suspends the key.
    last_pin_lock_at = models.DateTimeField(null=True, blank=True, editable=False)
    previous_pin_lock_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when the key is suspended; only an operator lifts it (admin action).
    suspended_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "terminal API key"
        verbose_name_plural = "terminal API keys"


class PairingCode(models.Model):
    """A one-time code that pairs a counter tablet with a store: redeemed from the tablet's
    pairing page, it makes the terminal key and hands it to that tablet alone. Only the
    code's keyed digest is stored."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    terminal_name = models.CharField(max_length=50)
    code_digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)
    # The key the redemption made; revoking it ends the pairing.
    terminal_key = models.OneToOneField(
        TerminalKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="pairing"
    )

    def __str__(self) -> str:
        return f"pairing of {self.terminal_name!r} at {self.store_id}"


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an Idempotency-Key, replayed to retries.

    Claimed (committed, without a response) before the work starts, so that a concurrent
    retry sees it in flight; completed in the same database transaction as the ledger row.
    """

    terminal_key = models.ForeignKey(TerminalKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_digest = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The rendered JSON, kept as sent so that a replay is byte for byte the same.
    response_body = models.TextField(blank=True)
    claimed_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["terminal_key", "key"], name="idempotency_key_unique_per_terminal"
            ),
        ]

    def __str__(self) -> str:
        return self.key


class TaskRun(models.Model):
    """One run of a periodic job: when it started and ended, how it ended, what it did.
    A run that never finishes (the process was killed) stays `running`."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    task = models.CharField(max_length=100)
    scope = models.CharField(
        max_length=255, blank=True, help_text="Merchants the run was limited to; empty: all."
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["task", "status", "finished_at"], name="taskrun_task_status"),
        ]

    def __str__(self) -> str:
        return f"{self.task} at {self.started_at:%Y-%m-%d %H:%M} ({self.status})"


class WalletPass(models.Model):
    """A card's Google Wallet pass (a loyaltyObject), made when the customer first asks for
    the save link. Whether it shows the card's latest balance is the card's
    `wallet_pass_state`."""

    card = models.OneToOneField(
        Card, on_delete=models.PROTECT, primary_key=True, related_name="wallet_pass"
    )
    requested_at = models.DateTimeField(help_text="When the customer first asked for it.")
    inserted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the object was found or made at Google."
    )
    synced_at = models.DateTimeField(null=True, blank=True)
    failed_runs = models.PositiveIntegerField(
        default=0, help_text="Sync runs in a row in which pushing this pass failed."
    )
    last_error = models.TextField(blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name_plural = "wallet passes"
        indexes = [
            models.Index(
                fields=["failed_runs"], condition=Q(failed_runs__gt=0), name="wallet_pass_failing"
            ),
        ]

    def __str__(self) -> str:
        return f"Wallet pass of {self.card_id}"


class WalletClass(models.Model):
    """What was last pushed of a programme's loyaltyClass, so that it is pushed again only
    when the programme's name, logo or colour changed."""

    program = models.OneToOneField(
        Program, on_delete=models.CASCADE, primary_key=True, related_name="wallet_class"
    )
    class_id = models.CharField(max_length=255)
    payload_digest = models.CharField(max_length=64)
    synced_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.class_id


class BulkBonusJob(models.Model):
    """A bonus granted to many cards in the background: chunk after chunk, each card through
    the ledger service, with its progress for the admin to show."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    points = models.PositiveIntegerField()
    reason = models.CharField(max_length=255)
    card_ids = models.JSONField(help_text="The cards selected, in the order they are done.")
    total = models.PositiveIntegerField()
    processed = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    # Card number -> why it was skipped.
    skipped = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Bonus of {self.points} points to {self.total} cards"

    @property
    def percent_done(self) -> int:
        return 100 if not self.total else self.processed * 100 // self.total


# Analytics summaries ---------------------------------------------------------------------
# Derived from the ledger and the cards by `loyalty.services.analytics_summaries`, rewritten
# whole per merchant by each refresh, and read by `loyalty.analytics.selectors` instead of the
# ledger: the figures then read a few thousand rows per merchant instead of millions, and the
# ledger keeps the two indexes its writes pay for. No database constraints on the cards and
# stores they name: they are copies, and a per-row check would slow every refresh; and no
# index but the one each table's reads use.
# Days and months are the merchant's local ones. A `*_days` field is a bitmask of the days of
# its month (bit 0: the 1st), so that a range starting or ending inside a month is counted
# exactly.


class AnalyticsSnapshot(models.Model):
    """A merchant's summaries: what they count (rows and cards made before `as_of`) and the
    programme's median gap between visits then."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    as_of = models.DateTimeField()
    program_median_gap_seconds = models.FloatField(null=True)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Analytics of merchant {self.merchant_id} as of {self.as_of:%Y-%m-%d %H:%M}"


class AnalyticsDay(models.Model):
    """Per merchant, store and local day: cards enrolled there (by their enrolling store),
    points issued, redeemed and expired, and the purchases on earns that were not voided
    (rows without a store, expiry's, have `store` null). The enrolments and the ledger's
    figures of a day are two rows: every reader sums them."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    store = models.ForeignKey(
        Store,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        related_name="+",
    )
    day = models.DateField()
    enrolments = models.IntegerField(db_default=0)
    points_issued = models.BigIntegerField(db_default=0)
    points_redeemed = models.BigIntegerField(db_default=0)
    points_expired = models.BigIntegerField(db_default=0)
    revenue_cents = models.BigIntegerField(db_default=0)
    purchases = models.IntegerField(db_default=0)

    class Meta:
        indexes = [models.Index(fields=["merchant", "day"], name="analytics_day_merchant")]

    def __str__(self) -> str:
        return f"{self.day} at store {self.store_id}"


class AnalyticsCardMonth(models.Model):
    """Per card and local month with a visit: the days it visited, bought (an earn with a
    purchase amount, not voided), earned a stamp, and reached the stamps target with one;
    with the card's enrolment day and store, for cohorts and a store's cards."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    card = models.ForeignKey(
        Card, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    month = models.DateField()
    enrolled_on = models.DateField()
    enrolled_store = models.ForeignKey(
        Store, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    visit_days = models.IntegerField()
    purchase_days = models.IntegerField()
    stamp_days = models.IntegerField()
    completion_days = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["merchant", "month"], name="analytics_card_month_merchant")]

    def __str__(self) -> str:
        return f"card {self.card_id} in {self.month:%Y-%m}"


class AnalyticsCardStoreMonth(models.Model):
    """The same per card, store and local month, for what is counted by the store a row was
    written at (purchases and stamps); only months with a purchase or a stamp there."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    card = models.ForeignKey(
        Card, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    store = models.ForeignKey(
        Store, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    month = models.DateField()
    purchase_days = models.IntegerField()
    stamp_days = models.IntegerField()
    completion_days = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["merchant", "month"], name="analytics_card_store_merchant")]

    def __str__(self) -> str:
        return f"card {self.card_id} at store {self.store_id} in {self.month:%Y-%m}"


class AnalyticsMonth(models.Model):
    """Per store (null: every store) and local month, the cards that bought, so that a whole
    month's members are read, not counted."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    store = models.ForeignKey(
        Store,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        related_name="+",
    )
    month = models.DateField()
    members = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["merchant", "month"], name="analytics_month_merchant")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} at store {self.store_id}"


class AnalyticsCardVisits(models.Model):
    """Per card that visited: its visits, the last one, and the median gap between two
    consecutive ones (null with a single visit), for churn risk."""

    card = models.OneToOneField(
        Card, on_delete=models.DO_NOTHING, db_constraint=False, primary_key=True, related_name="+"
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    visits = models.IntegerField()
    last_visit_at = models.DateTimeField()
    median_gap_seconds = models.FloatField(null=True)

    class Meta:
        indexes = [models.Index(fields=["merchant"], name="analytics_card_visits_merchant")]

    def __str__(self) -> str:
        return f"card {self.card_id}: {self.visits} visits"
