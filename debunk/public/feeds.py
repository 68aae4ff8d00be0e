"""RSS and Atom feeds of the debunk columns (all rumors, or one category and its sub-categories)."""

from datetime import datetime

from django.contrib.syndication.views import Feed
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _

from debunk.public.cards import label_text
from debunk.stock import selectors
from debunk.stock.models import Rumor
from labels.models import Category

FEED_ITEMS = 30


class ColumnFeed(Feed):
    """RSS 2.0: the latest debunks of a column; `/feeds/rss/` is every column."""

    def get_object(self, request: HttpRequest, code: str | None = None) -> Category | None:
        return get_object_or_404(Category, code=code) if code else None

    def title(self, obj: Category | None) -> str:
        return _("Debunk: %(column)s") % {"column": obj.name if obj else _("all columns")}

    def link(self, obj: Category | None) -> str:
        return reverse("column", args=[obj.code]) if obj else reverse("home")

    def description(self, obj: Category | None) -> str:
        return _("The latest debunked rumors.")

    def items(self, obj: Category | None) -> list[Rumor]:
        rumors = selectors.column_rumors(obj) if obj else selectors.public_rumors()
        return list(rumors[:FEED_ITEMS])

    def item_title(self, item: Rumor) -> str:
        return label_text(item)

    def item_description(self, item: Rumor) -> str:
        debunk = item.latest_debunk
        return f"{item.claim}\n\n{debunk.summary}" if debunk else item.claim

    def item_pubdate(self, item: Rumor) -> datetime | None:
        return item.published_at

    def item_updateddate(self, item: Rumor) -> datetime:
        return item.updated_at

    def item_categories(self, item: Rumor) -> list[str]:
        return [item.category.name, item.verdict.text]


class ColumnAtomFeed(ColumnFeed):
    feed_type = Atom1Feed
    subtitle = ColumnFeed.description
