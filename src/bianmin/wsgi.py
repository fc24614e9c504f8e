import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bianmin.settings")
application = get_wsgi_application()

# Load jieba's dictionary now, not in the first search request of each worker (about 1 s).
import jieba  # noqa: E402

jieba.initialize()
