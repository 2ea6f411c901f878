from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = "Loyalty"

    def ready(self):
        # checks registers the system checks; metrics.tasks connects its Celery signals.
        from loyalty import checks, emails  # noqa: F401
        from loyalty.metrics import tasks  # noqa: F401

        emails.register_samples()
