from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = "Loyalty"

    def ready(self):
        from loyalty import checks  # noqa: F401  (registers the system checks)
