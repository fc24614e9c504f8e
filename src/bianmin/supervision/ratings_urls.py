"""Public 好差评 pages, mounted at the site root: the applicant's rating form and the published figures."""

from django.urls import path

from . import views_ratings as views

app_name = "supervision_ratings"
urlpatterns = [
    path("my/cases/<str:number>/rate/", views.rate, name="rate"),
    path("ratings/", views.stats, name="stats"),
]
