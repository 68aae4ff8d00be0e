"""What the admin's bulk actions share: calling a service on each selected row, and saying why one was refused."""

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext


def error_text(exc: Exception) -> str:
    """A service's refusal (ValidationError, PermissionDenied) as one line for an admin message."""
    return " ".join(getattr(exc, "messages", None) or [str(exc) or gettext("Not allowed.")])


def apply_each(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    rows: Iterable[Any],
    call: Callable[[Any], object],
    label: Callable[[Any], str] = str,
) -> int:
    """Call a service on each row; a refused row gets its own error message and the others go on. Returns how
    many succeeded."""
    done = 0
    for row in rows:
        try:
            call(row)
            done += 1
        except (PermissionDenied, ValidationError) as exc:
            model_admin.message_user(request, f"{label(row)}: {error_text(exc)}", messages.ERROR)
    return done
