"""The catalog administrator's console, mounted at /console/catalog/."""

from django.urls import path

from . import console

app_name = "catalog_console"
urlpatterns = [
    path("", console.item_list, name="list"),
    path("new/", console.item_edit, name="new"),
    path("import/", console.item_import, name="import"),
    path("export/", console.item_export, name="export"),
    path("<int:pk>/", console.item_detail, name="detail"),
    path("<int:pk>/edit/", console.item_edit, name="edit"),
    path("<int:pk>/publish/", console.item_publish, name="publish"),
    path("<int:pk>/withdraw/", console.item_withdraw, name="withdraw"),
]
