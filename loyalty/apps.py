from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = "Loyalty"

    def ready(self):
        from loyalty import checks, emails  # noqa: F401  (checks registers the system checks)

        emails.register_samples()
