from django.urls import path

from . import views

app_name = "catalog"
urlpatterns = [
    path("", views.home, name="home"),
    path("items/<str:code>/", views.guide, name="guide"),
    path("proofs/", views.proofs, name="proofs"),
    path("proofs/cancelled/", views.cancelled_proofs, name="cancelled_proofs"),
    path("bundles/", views.bundles, name="bundles"),
    path("bundles/<str:code>/", views.bundle, name="bundle"),
]
