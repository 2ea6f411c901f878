"""Every sentence the counter's script shows, translated on the server and handed to the page
as a JSON block: the script never shows the API's own `detail` (English, for integrators) nor
raw JSON.

`ERRORS` maps each stable `code` the terminal API and the pairing endpoint answer with to a
sentence for the staff member; `{seconds}` is filled from Retry-After. `TEXTS` are the
script's other words; `{name}` placeholders are filled by the script.
"""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

ERRORS = {
    # The ledger's rules (409).
    "insufficient_points": _("The card does not have enough points for this."),
    "insufficient_stamps": _("The card does not have enough stamps for the reward yet."),
    "already_voided": _("This operation has already been cancelled."),
    "not_voidable": _("Only earned or redeemed points and stamps can be cancelled."),
    "card_inactive": _("This card is blocked: it cannot be used."),
    "cross_location_not_allowed": _(
        "This card belongs to another store of the programme: redeem and cancel it there."
    ),
    "points_not_enabled": _("This programme does not collect points."),
    "stamps_not_enabled": _("This programme does not collect stamps."),
    "below_minimum_purchase": _("The purchase is below the programme's minimum for points."),
    "reward_unavailable": _("This reward is no longer offered: choose another one."),
    "already_enrolled": _("This email address already has a card: look the card up instead."),
    "no_live_program": _("This shop has no loyalty programme running at the moment."),
    "retired_program_card": _(
        "This customer still has a card of a retired programme here: ask an operator to "
        "sort it out first."
    ),
    "domain_error": _("The programme's rules do not allow this."),
    # Staff PINs (403).
    "pin_invalid": _("That PIN is not right. Check it and try again."),
    "pin_locked": _("Too many wrong PINs: PIN entry at this tablet is locked for 15 minutes."),
    "terminal_suspended": _(
        "PIN entry was locked too often: this tablet is suspended until the platform's "
        "operators lift the suspension."
    ),
    "permission_denied": _("This needs a manager's PIN."),
    # The tablet's key (401).
    "not_authenticated": _("This tablet is not paired with a store: pair it again."),
    "authentication_failed": _(
        "This tablet is no longer paired: its key was revoked. Ask a manager for a new "
        "pairing code."
    ),
    # Input (400, 404, 413, 415, 422).
    "invalid": _("Some of the details are not valid: check them and try again."),
    "parse_error": _("The tablet sent something the server could not read. Reload the page."),
    "too_large": _("That is too much text: shorten it and try again."),
    "unsupported_media_type": _(
        "The tablet sent something the server could not read. Reload the page."
    ),
    "not_found": _("No card with this number at this shop."),
    "method_not_allowed": _("The tablet asked for something the server does not do."),
    "not_acceptable": _("The tablet asked for something the server does not do."),
    "idempotency_key_reused": _(
        "This operation was already sent with other details. Start it again."
    ),
    # Try again later (409, 429, 503): the page keeps the operation and resends it.
    "idempotency_key_in_progress": _(
        "The server is still working on this operation: it will be checked again in {seconds} s."
    ),
    "rate_limited": _(
        "Too many operations from this tablet in a minute: it will be sent again in {seconds} s."
    ),
    "throttled": _(
        "Too many operations from this tablet in a minute: it will be sent again in {seconds} s."
    ),
    "busy": _("The card is busy with other operations: it will be sent again in {seconds} s."),
    # Pairing.
    "pairing_code_invalid": _(
        "This pairing code does not exist. Check it, or ask a manager for a new one."
    ),
    "pairing_code_expired": _(
        "This pairing code has expired (they last 10 minutes). Ask a manager for a new one."
    ),
    "pairing_code_used": _("This pairing code has already been used. Ask a manager for a new one."),
    "csrf_failed": _("The page had expired: reload it and enter the code again."),
    # Not an answer of the API: what the page says for anything it does not know.
    "unexpected": _("Something went wrong on the server (error {status}). Try again."),
    "offline": _("No connection to the server. Check the tablet's Wi-Fi and try again."),
}

# Invalid input (400) names its fields; each has its own sentence.
FIELDS = {
    "email": _("Enter an email address like name@example.com."),
    "first_name": _("Enter the customer's first name."),
    "last_name": _("Check the last name."),
    "phone": _("Check the phone number."),
    "birth_date": _("Enter a real birthday, not in the future."),
    "locale": _("Choose one of the languages listed."),
    "purchase_amount_cents": _("Enter an amount between 0.01 and the programme's maximum."),
    "points": _("Enter a whole number of points above zero."),
    "count": _("Enter a whole number of stamps above zero."),
    "reward_id": _("Choose one of the rewards listed."),
    "order_reference": _("Shorten the receipt number."),
    "staff_pin": _("A PIN is 4 to 8 digits."),
    "reason": _("Shorten the reason."),
}

ACTIVITY = {
    "points_earned": pgettext_lazy("counter activity", "Points earned"),
    "points_redeemed": pgettext_lazy("counter activity", "Points redeemed"),
    "points_voided": pgettext_lazy("counter activity", "Points cancelled"),
    "points_expired": pgettext_lazy("counter activity", "Points expired"),
    "points_adjusted": pgettext_lazy("counter activity", "Points corrected"),
    "welcome_bonus": pgettext_lazy("counter activity", "Welcome bonus"),
    "stamp_earned": pgettext_lazy("counter activity", "Stamps added"),
    "stamp_redeemed": pgettext_lazy("counter activity", "Stamp reward given"),
    "stamp_voided": pgettext_lazy("counter activity", "Stamps cancelled"),
}

TEXTS = {
    "check_digit": _(
        "This is not a card number: check the 12 digits (the last one is a check digit)."
    ),
    "amount_invalid": _("Enter the amount of the purchase, for example 24.90."),
    "points_invalid": _("Enter a whole number of points above zero."),
    "count_invalid": _("Enter a whole number of stamps above zero."),
    "redeem_choice": _("Choose a reward or enter a number of points."),
    "terms_required": _("The customer must accept the programme's terms."),
    "pin_required": _("Enter your PIN: 4 to 8 digits."),
    "confirm_earn_amount": _("Earn points for a purchase of {amount}"),
    "confirm_earn_points": _("Add {points} points"),
    "confirm_redeem_points": _("Redeem {points} points"),
    "confirm_redeem_reward": _("Redeem the reward “{reward}” for {points} points"),
    "confirm_stamps": _("Add {count} stamp(s)"),
    "confirm_redeem_stamps": _("Give the stamp reward ({target} stamps)"),
    "confirm_void": _("Cancel “{what}” of {when}"),
    "confirm_enrol": _("Enrol {name} ({email})"),
    "on_card": _("Card {number}"),
    "done_earn": _("Done: {delta} points. New balance: {balance}."),
    "done_redeem": _("Done: {delta} points. New balance: {balance}."),
    "done_stamps": _("Done: {stamps} of {target} stamps."),
    "done_void": _("Cancelled. New balance: {balance} points, {stamps} stamps."),
    "done_enrol": _("Card {number} is ready for {name}."),
    "welcome_bonus": _("Welcome bonus: {points} points."),
    "pending_saved": _(
        "No connection: the operation is kept on this tablet and will be sent as soon as "
        "the connection returns."
    ),
    "pending_sent": _("Sent after the connection returned: {label}."),
    "pending_refused": _("Not recorded: {label}. {reason}"),
    "pending_dropped": _(
        "These operations were never recorded, because the tablet is no longer paired: {labels}"
    ),
    "pending_waiting": _("Waiting to be sent"),
    "pending_retry_at": _("next try in {seconds} s"),
    "reward_ready": _("The stamp reward is ready."),
    "stamps_progress": _("{stamps} of {target} stamps"),
    "no_activity": _("No operations yet."),
    "voided": _("cancelled"),
    "void_button": _("Cancel"),
    "void_label": _("Cancel “{what}” of {when}"),
    "camera_error": _("The camera could not be opened. Type or scan the number instead."),
    "customer_unknown": _("Customer"),
    "unpaired": _("This tablet is not paired yet."),
    "paired": _("Paired with {merchant}, {store}."),
    "pair_rate_limited": _("Too many codes tried from here: wait {seconds} s and try again."),
}


def counter_texts() -> dict:
    """Everything above in the active language, as plain strings for the page's JSON."""
    return {
        "errors": {code: str(text) for code, text in ERRORS.items()},
        "fields": {name: str(text) for name, text in FIELDS.items()},
        "activity": {kind: str(text) for kind, text in ACTIVITY.items()},
        "texts": {name: str(text) for name, text in TEXTS.items()},
    }
