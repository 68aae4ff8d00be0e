from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser

from debunk.core.roles import ADMINISTRATOR, FACT_CHECKER, REVIEWER, roles_sync

DEMO_USERS = [
    ("admin", "debunk-admin", [ADMINISTRATOR], True),
    ("checker", "debunk-checker", [FACT_CHECKER], False),
    ("reviewer", "debunk-reviewer", [REVIEWER], False),
]


class Command(BaseCommand):
    help = (
        "Create (or reset) the demo accounts and print their credentials. For demos only: refused when DEBUG is off "
        "unless --force is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even though DEBUG is off (a throwaway stack on loopback, such as make stack).",
        )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "DEBUG is off: this looks like production, and the demo accounts have published passwords "
                "(an administrator among them). Nothing was created. Use --force only on a throwaway demo stack."
            )
        roles_sync()
        user_model = get_user_model()
        self.stdout.write("Demo accounts (for local demos only):")
        for username, password, groups, superuser in DEMO_USERS:
            user, _ = user_model.objects.get_or_create(username=username)
            user.is_staff = True
            user.is_superuser = superuser
            user.set_password(password)
            user.save()
            user.groups.set(Group.objects.filter(name__in=groups))
            self.stdout.write(
                f"  {username:<9} / {password:<16} ({', '.join(groups)}{', superuser' if superuser else ''})"
            )
