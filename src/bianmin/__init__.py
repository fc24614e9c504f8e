"""bianmin (便民): a city's government services platform."""

from .celery import app as celery_app

__all__ = ["celery_app"]
