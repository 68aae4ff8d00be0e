from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class DebunkConfig(AppConfig):
    name = "debunk"
    verbose_name = _("Rumor stock")

    def ready(self) -> None:
        import debunk.celery  # noqa: F401  (the Celery app, configured from these settings, for .delay() here)
        from debunk.core.roles import roles_sync

        # Groups need the permissions, which Django creates after migrating; keep them in sync each time.
        post_migrate.connect(lambda **kwargs: roles_sync(), sender=self, weak=False, dispatch_uid="debunk-roles")
