from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from debunk.core.roles import ADMINISTRATOR, FACT_CHECKER, REVIEWER, roles_sync

DEMO_USERS = [
    ("admin", "debunk-admin", [ADMINISTRATOR], True),
    ("checker", "debunk-checker", [FACT_CHECKER], False),
    ("reviewer", "debunk-reviewer", [REVIEWER], False),
]


class Command(BaseCommand):
    help = "Create (or reset) the demo accounts and print their credentials. For demos only."

    def handle(self, *args, **options) -> None:
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
