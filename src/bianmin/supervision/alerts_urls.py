from django.urls import path

app_name = "supervision_alerts"
urlpatterns: list = []
