from django.conf import settings


def site(request):
    staff = getattr(request.user, "staff", None) if request.user.is_authenticated else None
    return {"site_name": settings.BIANMIN_SITE_NAME, "current_staff": staff}
