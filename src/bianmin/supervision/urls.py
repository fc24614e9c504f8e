"""Public supervision pages: overdue notices (超时公告) and published 好差评 statistics."""

from django.urls import include, path

urlpatterns = [
    path("", include("bianmin.supervision.ratings_urls")),
    path("", include("bianmin.supervision.notices_urls")),
]
