from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from loyalty.api import views

router = SimpleRouter()
router.register("enrollments", views.EnrollmentViewSet, basename="terminal-enrollment")
router.register("cards", views.CardViewSet, basename="terminal-card")
router.register("transactions", views.TransactionViewSet, basename="terminal-transaction")
router.register("pins", views.StaffPinViewSet, basename="terminal-pin")

urlpatterns = [
    # One programme per terminal: a single resource, not a list.
    path("program/", views.ProgramViewSet.as_view({"get": "show"}), name="terminal-program"),
    path(
        "terminal/unlock/",
        views.TerminalUnlockViewSet.as_view({"post": "unlock"}),
        name="terminal-unlock",
    ),
    *router.urls,
    re_path(r"", views.unknown_endpoint),
]
