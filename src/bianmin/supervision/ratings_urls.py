from django.urls import path

app_name = "supervision_ratings"
urlpatterns: list = []
