from django.urls import path

from . import views_notices as views

app_name = "supervision_notices"
urlpatterns = [
    path("notices/overdue/", views.overdue, name="overdue"),
]
