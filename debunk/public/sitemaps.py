"""sitemap.xml: the home page, the columns and every published rumor page."""

from datetime import datetime

from django.contrib.sitemaps import Sitemap
from django.db.models import QuerySet
from django.urls import reverse

from debunk.stock.models import Rumor
from labels.models import Category


class RumorSitemap(Sitemap):
    changefreq = "weekly"
    limit = 10_000

    def items(self) -> QuerySet[Rumor]:
        return Rumor.objects.live().only("pk", "updated_at").order_by("pk")

    def lastmod(self, item: Rumor) -> datetime:
        return item.updated_at


class ColumnSitemap(Sitemap):
    changefreq = "daily"

    def items(self) -> QuerySet[Category]:
        return Category.objects.all()

    def location(self, item: Category) -> str:
        return reverse("column", args=[item.code])


class PageSitemap(Sitemap):
    changefreq = "daily"

    def items(self) -> list[str]:
        return ["home", "column-list"]

    def location(self, item: str) -> str:
        return reverse(item)


SITEMAPS = {"pages": PageSitemap, "columns": ColumnSitemap, "rumors": RumorSitemap}
