"""Celery application. With no CELERY_BROKER_URL the tasks run inline (eager)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bianmin.settings")

app = Celery("bianmin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
