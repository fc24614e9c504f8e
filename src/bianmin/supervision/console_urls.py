"""Console pages for supervisors and departments: dashboard, alerts, 差评 handling, the plan tracker."""

from django.urls import include, path

urlpatterns = [
    path("", include("bianmin.supervision.dashboard_urls")),
    path("", include("bianmin.supervision.alerts_urls")),
    path("ratings/", include("bianmin.supervision.ratings_console_urls")),
    path("plan/", include("bianmin.supervision.tracker_urls")),
]
