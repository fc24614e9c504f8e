"""The supervision app's pages come from one URL module; their paths and names are those the templates,
the inbox messages and the tests use (issue 10 point 6 moved them without changing any)."""

import pytest
from django.urls import resolve, reverse

from bianmin.supervision import urls

NAMES = [
    ("supervision_ratings:rate", {"number": "440800-20261102-000001"}, "/my/cases/440800-20261102-000001/rate/"),
    ("supervision_ratings:stats", {}, "/ratings/"),
    ("supervision_notices:overdue", {}, "/notices/overdue/"),
    ("console:supervision_dashboard:dashboard", {}, "/console/supervision/"),
    ("console:supervision_dashboard:drilldown", {"code": "overdue_count"}, "/console/supervision/kpi/overdue_count/"),
    ("console:supervision_alerts:list", {}, "/console/supervision/alerts/"),
    ("console:supervision_alerts:inbox", {}, "/console/supervision/messages/"),
    ("console:supervision_ratings_console:list", {}, "/console/supervision/ratings/"),
    ("console:supervision_ratings_console:detail", {"pk": 7}, "/console/supervision/ratings/7/"),
    ("console:supervision_ratings_console:action", {"pk": 7, "action": "answer"}, "/console/supervision/ratings/7/answer/"),
    ("console:supervision_tracker:list", {}, "/console/supervision/plan/"),
    ("console:supervision_tracker:report", {}, "/console/supervision/plan/report/"),
    ("console:supervision_tracker:report_pdf", {}, "/console/supervision/plan/report.pdf"),
    ("console:supervision_tracker:detail", {"number": 9}, "/console/supervision/plan/9/"),
    ("console:supervision_tracker:submit", {"number": 9}, "/console/supervision/plan/9/report/"),
]


@pytest.mark.parametrize("name, kwargs, path", NAMES, ids=[n for n, _, _ in NAMES])
def test_names_and_paths(name, kwargs, path):
    assert reverse(name, kwargs=kwargs) == path
    assert resolve(path).func.__module__.startswith("bianmin.supervision.")


def test_every_page_is_listed_here():
    def count(patterns):
        return sum(count(p.url_patterns) if hasattr(p, "url_patterns") else 1 for p in patterns)

    assert count(urls.urlpatterns) + count(urls.console_urlpatterns) == len(NAMES)
