from django.core.management.base import BaseCommand, CommandError, CommandParser

from debunk.api.keys import api_key_revoke, parse_prefix
from debunk.api.models import ApiKey
from debunk.core.roles import operator_user


class Command(BaseCommand):
    help = "Revoke an API key by its prefix (ab12cd34 or dbk_ab12cd34). It stops working within seconds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix", help="The key's prefix, as shown in the admin.")
        parser.add_argument("--reason", default="", help="Why, for the audit trail.")

    def handle(self, *args, prefix: str, reason: str = "", **options) -> None:
        parsed = parse_prefix(prefix)
        key = ApiKey.objects.select_related("platform").filter(prefix=parsed).first() if parsed else None
        if key is None:
            raise CommandError(f"No API key has the prefix {prefix!r}.")
        if key.is_revoked:
            self.stdout.write(f"API key {key.display_prefix} was already revoked at {key.revoked_at:%Y-%m-%d %H:%M}.")
            return
        api_key_revoke(key=key, by=operator_user(), reason=reason)
        self.stdout.write(f"Revoked API key {key.display_prefix} ({key.name}) of platform {key.platform.code}.")
