"""Replaces `django.contrib.admin` in INSTALLED_APPS: the same app, whose `admin.site` is
`core.admin_site.BianminAdminSite` (admins only, behind the login throttle). Apart from the site
module, so that loading the app configuration imports no models."""

from django.contrib.admin.apps import AdminConfig


class BianminAdminConfig(AdminConfig):
    default_site = "bianmin.core.admin_site.BianminAdminSite"
