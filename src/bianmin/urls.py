from django.contrib import admin
from django.urls import include, path

from .api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("console/", include("bianmin.web.console_urls")),
    path("", include("bianmin.cases.public_urls")),
    path("", include("bianmin.licences.urls")),
    path("", include("bianmin.supervision.urls")),
    path("", include("bianmin.catalog.urls")),
    path("", include("bianmin.web.urls")),
]

handler400 = "bianmin.web.views.bad_request"
handler403 = "bianmin.web.views.forbidden"
handler404 = "bianmin.web.views.not_found"
handler500 = "bianmin.web.views.server_error"
