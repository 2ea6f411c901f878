from django.urls import path, re_path

from loyalty.api.views import unknown_endpoint
from loyalty.operations_api import views
from loyalty.operations_api.schema import mounted


def _routes(*, on_behalf: bool):
    def view(view_class):
        return mounted(view_class, on_behalf=on_behalf).as_view()

    return [
        path("cards/", view(views.CardSearchView)),
        path("cards/deactivate/", view(views.DeactivateView)),
        path("cards/reactivate/", view(views.ReactivateView)),
        path("cards/bonus/", view(views.BonusView)),
        path("bonus-jobs/", view(views.BonusJobsView)),
        path("bonus-jobs/<int:job_id>/", view(views.BonusJobView)),
        path("cards/<str:number>/restore-points/", view(views.RestorePointsView)),
        path("stores/<str:code>/pins/", view(views.PinsView)),
        path("customers/<int:customer_id>/", view(views.CustomerView)),
        re_path(r"", unknown_endpoint),
    ]


merchant_urlpatterns = _routes(on_behalf=False)
admin_urlpatterns = _routes(on_behalf=True)
