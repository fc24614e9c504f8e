"""Console pages for issued licences, revocation, seals and bulk import (/console/licences/)."""

from django.urls import path

from . import views

app_name = "licences_console"
urlpatterns = [
    path("", views.licence_list, name="list"),
    path("<int:pk>/", views.licence_detail, name="detail"),
    path("<int:pk>/pdf/", views.licence_pdf, name="pdf"),
    path("<int:pk>/revoke/", views.licence_revoke, name="revoke"),
    path("seals/", views.seal_list, name="seals"),
    path("seals/rotate/", views.seal_rotate, name="seal_rotate"),
    path("import/", views.licence_import, name="import"),
    path("import/template.xlsx", views.import_template, name="import_template"),
]
