"""Index updates on commit through the task, outages that never fail a save, and search_reindex."""

import logging

import pytest
from django.core.management import call_command

from debunk.stock import rumors as rumor_services
from search.backends import SearchUnavailable, get_backend
from search.services import search_cards, search_rumors
from tests.search.helpers import publish

pytestmark = pytest.mark.django_db


class BrokenBackend:
    """Every call fails as an unreachable Elasticsearch does."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("search engine down")

        return fail


@pytest.fixture
def broken_search(monkeypatch, database_search):
    monkeypatch.setattr("search.services.get_backend", lambda: BrokenBackend())


def test_index_follows_the_workflow_on_commit(database_search, checker, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rumor = publish(checker, reviewer, claim="网传地铁明天全线停运", title="地铁停运系谣言")
    assert callbacks  # scheduled on commit, not before
    assert get_backend().count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        rumor_services.rumor_retract(rumor=rumor, by=reviewer, reason="duplicate")
    assert get_backend().count() == 0


def test_nothing_is_indexed_before_commit(database_search, checker, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        publish(checker, reviewer, claim="网传地铁明天全线停运", title="地铁停运系谣言")
    assert get_backend().count() == 0


def test_outage_never_fails_a_publish(broken_search, checker, reviewer, django_capture_on_commit_callbacks, caplog):
    with caplog.at_level(logging.WARNING, logger="search.tasks"), django_capture_on_commit_callbacks(execute=True):
        rumor = publish(checker, reviewer, claim="网传地铁明天全线停运", title="地铁停运系谣言")
    rumor.refresh_from_db()
    assert rumor.status == rumor.Status.PUBLISHED
    assert "search update of rumor" in caplog.text


def test_outage_gives_an_unavailable_page_and_no_cards(broken_search, caplog):
    with caplog.at_level(logging.ERROR, logger="search.services"):
        page = search_rumors("疫苗")
    assert (page.hits, page.total, page.unavailable) == ([], 0, True)
    assert search_cards("疫苗") == []
    assert "search failed" in caplog.text


def test_search_reindex_rebuilds_from_live_rumors(database_search, checker, reviewer, capsys):
    publish(checker, reviewer, claim="网传地铁明天全线停运", title="地铁停运系谣言")  # on_commit not run: not indexed
    draft = rumor_services.rumor_create(
        by=checker, claim="草稿不应被索引", category=reviewer_category(), verdict=reviewer_verdict()
    )
    assert get_backend().count() == 0
    call_command("search_reindex")
    assert get_backend().count() == 1
    assert "1" in capsys.readouterr().out
    assert search_rumors("地铁").total == 1
    assert search_rumors("草稿").total == 0
    assert draft.pk


def test_search_reindex_reports_an_unreachable_engine(monkeypatch, database_search):
    from django.core.management.base import CommandError

    def unavailable(**kwargs):
        raise SearchUnavailable("connection refused")

    monkeypatch.setattr("search.management.commands.search_reindex.search_rebuild", unavailable)
    with pytest.raises(CommandError, match="connection refused"):
        call_command("search_reindex")


def reviewer_category():
    from labels.models import Category

    return Category.objects.get(code="livelihood")


def reviewer_verdict():
    from labels.models import VerdictLabel

    return VerdictLabel.objects.get(code="false")
