from django.urls import path

app_name = "supervision_dashboard"
urlpatterns: list = []
