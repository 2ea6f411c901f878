"""The customer pages' forms. Every message is translated; errors are tied to their fields by
Django's own aria-describedby (`<id>_error`, `<id>_helptext`)."""

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import MAX_AGE_YEARS, validate_birth_date
from loyalty.pages.language import AUTONYMS, CODES


class LanguageSelect(forms.Select):
    """Each option names its language in itself, marked with that language for screen
    readers."""

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        option["attrs"]["lang"] = value
        return option


class EnrollmentForm(forms.Form):
    first_name = forms.CharField(
        label=_("First name"),
        max_length=100,
        error_messages={"required": _("Enter your first name.")},
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=100,
        error_messages={"required": _("Enter your last name.")},
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        help_text=_("Your card's link is sent to this address."),
        error_messages={
            "required": _("Enter your email address."),
            "invalid": _("Enter an email address like name@example.com."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Phone number"),
        required=False,
        max_length=32,
        validators=[
            RegexValidator(
                r"^\+?[0-9][0-9 ()./-]{4,30}$",
                _("Enter a phone number with digits, spaces and + ( ) - only."),
            )
        ],
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    birth_date = forms.DateField(
        label=_("Birthday"),
        required=False,
        help_text=_("For a birthday surprise."),
        error_messages={"invalid": _("Enter a real date, for example 1990-04-17.")},
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
    )
    locale = forms.ChoiceField(
        label=_("Preferred language"),
        choices=[(code, AUTONYMS[code]) for code in CODES],
        help_text=_("For this site and the emails we send you."),
        error_messages={
            "required": _("Choose one of the languages listed."),
            "invalid_choice": _("Choose one of the languages listed."),
        },
        widget=LanguageSelect,
    )
    marketing_consent = forms.BooleanField(
        label=_("Send me news and offers by email, such as birthday wishes."),
        required=False,
    )
    accept_terms = forms.BooleanField(
        label=_("I accept the programme's terms."),
        error_messages={"required": _("Accept the programme's terms to join.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["birth_date"].widget.attrs.update(
            {
                "min": (
                    _years_before(today, MAX_AGE_YEARS + 1) + datetime.timedelta(days=1)
                ).isoformat(),
                "max": today.isoformat(),
            }
        )

    def clean_birth_date(self):
        birth_date = self.cleaned_data["birth_date"]
        if birth_date is None:
            return None
        try:
            validate_birth_date(birth_date)
        except ValidationError as error:
            if error.code == "future":
                raise ValidationError(_("Your birthday cannot be in the future.")) from None
            raise ValidationError(
                _("Enter a birthday less than %(years)s years ago."),
                params={"years": MAX_AGE_YEARS},
            ) from None
        return birth_date

    def service_arguments(self) -> dict:
        """The fields as enroll_customer takes them."""
        data = self.cleaned_data
        return {
            "email": data["email"],
            "first_name": data["first_name"],
            "last_name": data["last_name"],
            "phone": data["phone"],
            "birth_date": data["birth_date"],
            "locale": data["locale"],
            "marketing_consent": data["marketing_consent"],
        }


class LostLinkForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        help_text=_("The address you gave when you joined."),
        error_messages={
            "required": _("Enter your email address."),
            "invalid": _("Enter an email address like name@example.com."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


def _years_before(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)
