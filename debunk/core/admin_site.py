"""The fact-checkers' admin site: its index shows the product's parts as sections instead of one list of models.

The models of all parts share one app label (`debunk`), so Django would show them as one app; `get_app_list`
splits that app by the package each model lives in (`debunk.<part>.models`). The breadcrumbs of a model's pages
(change list, change form, delete, history) name its section too, not the app (`admin_section` in each_context,
read by the breadcrumbs templates in templates/admin/).
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

# Sections in the order fact-checkers work, each with the parts whose models it lists.
SECTIONS: list[tuple[str, Any, tuple[str, ...]]] = [
    ("stock", _("Stock and review"), ("stock",)),
    ("reports", _("Reports and leads"), ("reports",)),
    ("warning", _("Early warning"), ("warning",)),
    ("matches", _("Matches"), ("matching", "images")),
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


def section_of(model: type | None) -> Any:
    """The (translatable) name of the index section listing `model`, or None (another app's model, or none)."""
    if model is None or model._meta.app_label != "debunk":
        return None
    part = part_of(model)
    return next((name for _key, name, parts in SECTIONS if part in parts), None)


class DebunkAdminSite(admin.AdminSite):
    site_header = _("Debunk administration")
    site_title = _("Debunk")
    index_title = _("Rumors, matches, corrections and sanctions")

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        section = section_of(self._model_of_page(request))
        if section is not None:
            context["admin_section"] = section
        return context

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """The front page: the fact-checkers' dashboard (debunk.warning.dashboard), the sections below it."""
        from debunk.warning.dashboard import dashboard

        return super().index(request, {"dashboard": dashboard(request), **(extra_context or {})})

    def _model_of_page(self, request: HttpRequest) -> type | None:
        """The registered model whose admin page this is, from the URL's name (`<app>_<model>_<view>`, the
        ModelAdmins' own views and the ones they add alike)."""
        match = getattr(request, "resolver_match", None)
        name = getattr(match, "url_name", None) or ""
        for model in self._registry:
            if name.startswith(f"{model._meta.app_label}_{model._meta.model_name}_"):
                return model
        return None

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
