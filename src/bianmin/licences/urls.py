"""Public pages of the e-licence repository: verification (where a licence's QR code points)."""

from django.urls import path

from . import sharing_views, views

app_name = "licences"
urlpatterns = [
    path("licences/verify/", views.verify_form, name="verify"),
    path("licences/verify/<str:identifier>/", views.verify_identifier, name="verify_identifier"),
    path("licences/shared/<str:token>/", sharing_views.shared, name="shared"),
]
