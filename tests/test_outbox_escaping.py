"""The outbox stores every value as given, whatever COPY's text format has to escape, and
counts only the emails it recorded."""

from messaging.models import OutgoingEmail
from messaging.services import EmailRequest, queue_emails

# A backslash, tab, newline and carriage return each, next to the text COPY reads as NULL.
AWKWARD = "a\\b\tc\nd\re\\N"


def test_it_stores_the_address_and_template_byte_for_byte(merchant):
    recorded = queue_emails(
        [
            EmailRequest(
                merchant_id=merchant.pk,
                customer_id=None,
                to=f"x{AWKWARD}@example.com",
                template=f"t{AWKWARD}",
                context={"note": AWKWARD},
            )
        ]
    )
    assert recorded == 1
    email = OutgoingEmail.objects.get()
    assert (email.to, email.template, email.context) == (
        f"x{AWKWARD}@example.com",
        f"t{AWKWARD}",
        {"note": AWKWARD},
    )


def test_it_records_nothing_and_says_so_when_no_request_has_an_address(merchant):
    assert queue_emails([]) == 0
    addressless = EmailRequest(merchant_id=merchant.pk, customer_id=None, to="", template="w")
    assert queue_emails([addressless, addressless]) == 0
    assert not OutgoingEmail.objects.exists()
