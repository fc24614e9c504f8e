"""The staff console: login and the pages each role may use."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from bianmin.supervision.urls import console_urlpatterns as supervision_console

from . import console
from .console_login import StaffLoginView

app_name = "console"
urlpatterns = [
    path("login/", StaffLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="/"), name="logout"),
    path("", console.home, name="home"),
    path("catalog/", include("bianmin.catalog.console_urls")),
    path("cases/", include("bianmin.cases.console_urls")),
    path("licences/", include("bianmin.licences.console_urls")),
    path("supervision/", include(supervision_console)),
]
