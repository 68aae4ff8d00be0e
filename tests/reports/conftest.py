"""Fixtures shared by the reports tests: a fresh match index around each test, a category, a platform."""

import pytest

from debunk.api.models import Platform
from debunk.matching.services import reset_caches
from labels.models import Category


@pytest.fixture(autouse=True)
def fresh_index():
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def category(db):
    return Category.objects.get(code="livelihood")


@pytest.fixture
def platform(db):
    return Platform.objects.create(code="weibo", name="微博")
