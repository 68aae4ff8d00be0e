from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from debunk.api.keys import api_key_create
from debunk.api.models import Platform
from debunk.core.audit import audit_record
from debunk.core.roles import operator_user


class Command(BaseCommand):
    help = (
        "Create an API key for a platform and print it once (on standard output, alone, so that scripts can "
        "capture it). Only its prefix and hash are stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--platform", required=True, metavar="CODE", help="The platform's code.")
        parser.add_argument("--name", default="default", help="What the key is for (default: %(default)s).")
        parser.add_argument(
            "--create-platform",
            metavar="DISPLAY_NAME",
            help="Create the platform with this display name if no platform has the code.",
        )

    def handle(self, *args, platform: str, name: str, create_platform: str | None = None, **options) -> None:
        code = platform.strip()
        with transaction.atomic():
            target = Platform.objects.filter(code=code).first()
            if target is None:
                if not create_platform:
                    raise CommandError(
                        f"No platform has the code {code!r}. Check the code in the admin (Platforms), or add "
                        f'--create-platform "Display name" to create it.'
                    )
                target = Platform(code=code, name=create_platform.strip())
                try:
                    target.full_clean()
                except ValidationError as exc:
                    raise CommandError(f"Cannot create platform {code!r}: {'; '.join(exc.messages)}") from exc
                target.save()
                audit_record(actor=None, action="platform.create", target=target, changes={"code": [None, code]})
                self.stderr.write(f"Created platform {code} ({target.name}).")
            try:
                key, raw = api_key_create(platform=target, name=name, by=operator_user())
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
        if not target.is_active:
            self.stderr.write(
                self.style.WARNING(f"Platform {code} is inactive: the key is refused until it is active.")
            )
        self.stderr.write(f"API key {key.display_prefix} ({key.name}) for platform {code}:")
        self.stdout.write(raw)
        self.stderr.write(self.style.WARNING("Store it now: it will not be shown again."))
