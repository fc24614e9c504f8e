from django.urls import path

app_name = "supervision_tracker"
urlpatterns: list = []
