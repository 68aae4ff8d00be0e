from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from debunk.api.models import Platform
from debunk.core.roles import operator_user
from debunk.webhooks.services import endpoint_create


class Command(BaseCommand):
    help = (
        "Create a webhook endpoint for a platform and print its signing secret once (on standard output, alone, "
        "so that scripts can capture it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--platform", required=True, metavar="CODE", help="The platform's code.")
        parser.add_argument("--url", required=True, help="Where to POST corrections (http:// or https://).")
        parser.add_argument("--secret", default="", help="Use this whsec_… secret instead of a new one.")

    def handle(self, *args: Any, platform: str, url: str, secret: str, **options: Any) -> None:
        target = Platform.objects.filter(code=platform.strip()).first()
        if target is None:
            raise CommandError(f"No platform has the code {platform!r}.")
        try:
            endpoint = endpoint_create(platform=target, url=url, secret=secret, by=operator_user())
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(f"Webhook endpoint #{endpoint.pk} for {target.code}: {endpoint.url}; signing secret:")
        self.stdout.write(endpoint.secret)
