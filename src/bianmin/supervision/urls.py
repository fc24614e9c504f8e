"""Every supervision page, in one module (one per app).

`urlpatterns` are the public pages, mounted at the site root: the applicant's rating form, the
published 好差评 figures and the overdue notices (超时公告). `console_urlpatterns` are the staff
pages, mounted by `web.console_urls` at /console/supervision/: the dashboard, alerts, 差评 handling
and the plan tracker. Each domain keeps its own namespace, so names such as
`console:supervision_dashboard:drilldown` are those the templates and tests already use.
"""

from django.urls import include, path

from .alerts import views as alerts
from .kpis import views as kpis
from .notices import views as notices
from .ratings import views as ratings
from .tracker import views as tracker

_ratings_public = [
    path("my/cases/<str:number>/rate/", ratings.rate, name="rate"),
    path("ratings/", ratings.stats, name="stats"),
]
_notices = [
    path("notices/overdue/", notices.overdue, name="overdue"),
]
_dashboard = [
    path("", kpis.dashboard, name="dashboard"),
    path("kpi/<slug:code>/", kpis.drilldown, name="drilldown"),
]
_alerts = [
    path("alerts/", alerts.alert_list, name="list"),
    path("messages/", alerts.inbox, name="inbox"),
]
_ratings_console = [
    path("", ratings.console_list, name="list"),
    path("<int:pk>/", ratings.console_detail, name="detail"),
    path("<int:pk>/<slug:action>/", ratings.console_action, name="action"),
]
_tracker = [  # T31
    path("", tracker.task_list, name="list"),
    path("report/", tracker.summary_page, name="report"),
    path("report.pdf", tracker.summary_pdf, name="report_pdf"),
    path("<int:number>/", tracker.task_detail, name="detail"),
    path("<int:number>/report/", tracker.report, name="submit"),
]

urlpatterns = [
    path("", include((_ratings_public, "supervision_ratings"))),
    path("", include((_notices, "supervision_notices"))),
]

console_urlpatterns = [
    path("", include((_dashboard, "supervision_dashboard"))),
    path("", include((_alerts, "supervision_alerts"))),
    path("ratings/", include((_ratings_console, "supervision_ratings_console"))),
    path("plan/", include((_tracker, "supervision_tracker"))),
]
