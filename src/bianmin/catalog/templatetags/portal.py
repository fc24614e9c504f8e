"""The portal's name for the page chrome.

Django's auth views (LoginView, password views) put their own `site_name` in the context (the
request's host name when django.contrib.sites is not installed), which hides the one from
`bianmin.web.context.site`; base.html therefore reads the name from settings through this tag.
"""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def portal_name() -> str:
    return settings.BIANMIN_SITE_NAME
