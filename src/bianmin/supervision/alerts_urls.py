from django.urls import path

from . import views_alerts as views

app_name = "supervision_alerts"
urlpatterns = [
    path("alerts/", views.alert_list, name="list"),
    path("messages/", views.inbox, name="inbox"),
]
