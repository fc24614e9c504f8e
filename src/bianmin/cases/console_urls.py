"""The staff console's case pages, mounted at /console/cases/."""

from django.urls import path

from . import console_views as views

app_name = "cases_console"
urlpatterns = [
    path("", views.all_cases, name="all"),
    path("queue/", views.queue, name="queue"),
    path("new/", views.register, name="new"),
    path("tasks/", views.tasks, name="tasks"),
    path("handovers/", views.handovers, name="handovers"),
    path("handovers/<int:pk>/claim/", views.claim, name="claim"),
    path("files/<int:file_id>/", views.case_file, name="file"),  # before <number>/<action>/, which "files/1/" would match
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/<slug:action>/", views.case_action, name="action"),
]
