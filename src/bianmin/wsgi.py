import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bianmin.settings")
application = get_wsgi_application()

# Each worker loads now what its first requests would otherwise load while a user waits: the URL
# configuration with the API's schemas (about 0.5 s), the cache's client, and jieba's dictionary
# for the catalog search (about 1 s).
import jieba  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018
getattr(cache, "_cache", None)  # Django's Redis backend imports redis and builds its client (no connection yet)
jieba.initialize()
