"""Public pages of the e-licence repository: verification (where a licence's QR code points)."""

from django.urls import path

app_name = "licences"
urlpatterns: list = []
