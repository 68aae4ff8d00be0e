"""The read rules the API and pages share live in selectors: the category subtree and the library's filters."""

from datetime import timedelta

from django.utils import timezone

from debunk.stock import rumors as rumor_services
from debunk.stock.selectors import library_rumors
from labels.models import Category
from labels.selectors import category_subtree_ids
from tests.factories import publish_rumor


def test_category_subtree_is_the_category_then_everything_below_it(db):
    top = Category.objects.get(code="public_emergencies")
    ids = category_subtree_ids(top)
    assert ids[0] == top.pk and category_subtree_ids(top.pk) == ids
    below = set(Category.objects.filter(parent=top).values_list("pk", flat=True))
    assert below and set(ids) == {top.pk} | below
    leaf = Category.objects.get(code="transport")
    assert category_subtree_ids(leaf) == [leaf.pk]


def test_category_subtree_survives_a_cycle(db):
    a = Category.objects.get(code="public_emergencies")
    b = Category.objects.get(code="transport")
    Category.objects.filter(pk=a.pk).update(parent=b)  # a broken tree must not loop
    assert set(category_subtree_ids(a)) >= {a.pk, b.pk}


def test_library_filters(checker, reviewer):
    transport = publish_rumor(checker, reviewer, claim="高速封闭", category="transport")
    water = publish_rumor(checker, reviewer, claim="停水三天", category="livelihood", verdict="false")
    since = timezone.now() - timedelta(minutes=1)
    rumor_services.rumor_retract(rumor=water, by=reviewer, reason="更正")
    assert list(library_rumors(category="public_emergencies")) == [transport]  # sub-categories included
    assert list(library_rumors(category="no_such_code")) == []  # an unknown code matches nothing
    assert set(library_rumors(updated_since=since)) == {transport, water}  # withdrawn ones come too
    assert list(library_rumors(updated_since=since, published_only=True)) == [transport]
    assert list(library_rumors(verdict="false", category="livelihood")) == []  # retracted: not live
