"""The public's pages: account, applying online, the personal / enterprise page (我的办件, 我的证照, 用证记录,
我的评价), inbox, file downloads."""

from django.urls import path

from . import personal_views
from . import public_views as views

app_name = "cases_public"
urlpatterns = [
    path("account/register/", views.register_view, name="register"),
    path("account/login/", views.login_view, name="login"),
    path("account/activate/", views.activate_view, name="activate"),
    path("account/password-reset/", views.activate_view, {"reset": True}, name="password_reset"),
    path("account/oidc/start/", views.oidc_start, name="oidc_start"),
    path("account/oidc/callback/", views.oidc_callback, name="oidc_callback"),
    path("account/logout/", views.logout_view, name="logout"),
    path("apply/draft/<int:pk>/", views.apply_draft, name="draft"),
    path("apply/<str:code>/", views.apply, name="apply"),
    path("my/", personal_views.home, name="my_cases"),
    path("my/licences/", personal_views.licences, name="my_licences"),
    path("my/licences/uses/", personal_views.licence_uses, name="my_licence_uses"),
    path("my/licences/share-links/<int:link_id>/revoke/", personal_views.revoke_share, name="revoke_share"),
    path("my/licences/<str:identifier>/pdf/", personal_views.licence_pdf, name="my_licence_pdf"),
    path("my/ratings/", personal_views.ratings, name="my_ratings"),
    path("my/messages/", views.inbox, name="messages"),
    path("my/cases/<str:number>/", views.case_detail, name="case"),
    path("my/cases/<str:number>/decision.pdf", views.decision_letter, name="decision_letter"),
    path("my/cases/<str:number>/submitted/", views.submitted, name="submitted"),
    path("my/cases/<str:number>/supplement/", views.supplement, name="supplement"),
    path("my/cases/<str:number>/pending/<int:cm_id>/", views.pending_material, name="pending"),
    path("my/cases/<str:number>/withdraw/", views.withdraw, name="withdraw"),
    path("files/<int:file_id>/", views.download, name="file"),
]
