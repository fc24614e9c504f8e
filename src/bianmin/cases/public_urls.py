"""The public's pages: account, applying online, 我的办件, inbox, file downloads."""

from django.urls import path

from . import public_views as views

app_name = "cases_public"
urlpatterns = [
    path("account/register/", views.register_view, name="register"),
    path("account/login/", views.login_view, name="login"),
    path("account/logout/", views.logout_view, name="logout"),
    path("apply/draft/<int:pk>/", views.apply_draft, name="draft"),
    path("apply/<str:code>/", views.apply, name="apply"),
    path("my/", views.my_cases, name="my_cases"),
    path("my/messages/", views.inbox, name="messages"),
    path("my/cases/<str:number>/", views.case_detail, name="case"),
    path("my/cases/<str:number>/submitted/", views.submitted, name="submitted"),
    path("my/cases/<str:number>/supplement/", views.supplement, name="supplement"),
    path("my/cases/<str:number>/pending/<int:cm_id>/", views.pending_material, name="pending"),
    path("my/cases/<str:number>/withdraw/", views.withdraw, name="withdraw"),
    path("files/<int:file_id>/", views.download, name="file"),
]
