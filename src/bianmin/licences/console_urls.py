"""Console pages for licence types, seals, issued licences, revocation and bulk import."""

from django.urls import path

app_name = "licences_console"
urlpatterns: list = []
