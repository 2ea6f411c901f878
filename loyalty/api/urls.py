from django.urls import re_path
from rest_framework.routers import SimpleRouter

from loyalty.api import views

router = SimpleRouter()
router.register("program", views.ProgramViewSet, basename="terminal-program")
router.register("enrollments", views.EnrollmentViewSet, basename="terminal-enrollment")
router.register("cards", views.CardViewSet, basename="terminal-card")
router.register("transactions", views.TransactionViewSet, basename="terminal-transaction")
router.register("pins", views.StaffPinViewSet, basename="terminal-pin")

urlpatterns = [*router.urls, re_path(r"", views.unknown_endpoint)]
