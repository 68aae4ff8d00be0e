"""The fact-checkers' admin site: its index shows the product's parts as sections instead of one list of models.

The models of all parts share one app label (`debunk`), so Django would show them as one app; `get_app_list`
splits that app by the package each model lives in (`debunk.<part>.models`).
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

# Sections in the order fact-checkers work, each with the parts whose models it lists.
SECTIONS: list[tuple[str, Any, tuple[str, ...]]] = [
    ("stock", _("Stock and review"), ("stock",)),
    ("matches", _("Matches"), ("matching",)),
    ("corrections", _("Corrections"), ("corrections",)),
    ("sanctions", _("Tracing and sanctions"), ("tracing", "sanctions")),
    ("platforms", _("Platforms and keys"), ("api", "webhooks")),
    ("audit", _("Audit"), ("core",)),
]
APP_ORDER = ["debunk", "labels", "search", "auth"]


def part_of(model: type) -> str:
    """`stock` for a model defined in debunk/stock/models.py."""
    parts = model.__module__.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "debunk" else ""


class DebunkAdminSite(admin.AdminSite):
    site_header = _("Debunk administration")
    site_title = _("Debunk")
    index_title = _("Rumors, matches, corrections and sanctions")

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = self._build_app_dict(request, app_label)
        for app in apps.values():
            app["models"].sort(key=lambda m: str(m["name"]))
        listed: list[dict[str, Any]] = []
        for label in sorted(apps, key=lambda lbl: (APP_ORDER.index(lbl) if lbl in APP_ORDER else 99, lbl)):
            app = apps[label]
            listed += self._sections(app) if label == "debunk" else [app]
        return listed

    @staticmethod
    def _sections(app: dict[str, Any]) -> list[dict[str, Any]]:
        sections = []
        for key, name, parts in SECTIONS:
            models = [m for m in app["models"] if part_of(m["model"]) in parts]
            if models:
                sections.append({**app, "name": name, "section": key, "models": models})
        rest = [m for m in app["models"] if not any(part_of(m["model"]) in parts for _k, _n, parts in SECTIONS)]
        if rest:
            sections.append({**app, "models": rest})
        return sections


class DebunkAdminConfig(AdminConfig):
    default_site = "debunk.core.admin_site.DebunkAdminSite"
