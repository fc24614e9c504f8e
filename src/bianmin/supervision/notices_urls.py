from django.urls import path

app_name = "supervision_notices"
urlpatterns: list = []
