"""The plan tracker's console pages (T31), mounted at /console/supervision/plan/."""

from django.urls import path

from . import views_tracker as views

app_name = "supervision_tracker"
urlpatterns = [
    path("", views.task_list, name="list"),
    path("report/", views.summary_page, name="report"),
    path("report.pdf", views.summary_pdf, name="report_pdf"),
    path("<int:number>/", views.task_detail, name="detail"),
    path("<int:number>/report/", views.report, name="submit"),
]
