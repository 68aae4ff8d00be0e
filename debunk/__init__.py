"""Debunk: the Django project and the rumor stock."""

from debunk.celery import app as celery_app

__all__ = ["celery_app"]
