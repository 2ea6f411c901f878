from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns


class Ceiling(APIView):
    """What the framework costs on its own: no authentication, no database."""

    authentication_classes = []
    permission_classes = []
    schema = None

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [path("bench/ceiling/", Ceiling.as_view()), *project_urlpatterns]
