from django.urls import path

from . import views_ratings as views

app_name = "supervision_ratings_console"
urlpatterns = [
    path("", views.console_list, name="list"),
    path("<int:pk>/", views.console_detail, name="detail"),
    path("<int:pk>/<slug:action>/", views.console_action, name="action"),
]
