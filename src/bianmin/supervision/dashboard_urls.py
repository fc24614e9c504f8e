from django.urls import path

from . import views_dashboard as views

app_name = "supervision_dashboard"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("kpi/<slug:code>/", views.drilldown, name="drilldown"),
]
