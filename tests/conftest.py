import pytest

from debunk.core.roles import ADMINISTRATOR, FACT_CHECKER, REVIEWER
from tests.factories import UserFactory


@pytest.fixture
def checker(db):
    return UserFactory(username="checker", roles=[FACT_CHECKER])


@pytest.fixture
def reviewer(db):
    return UserFactory(username="reviewer", roles=[REVIEWER])


@pytest.fixture
def reviewer2(db):
    return UserFactory(username="reviewer2", roles=[REVIEWER])


@pytest.fixture
def administrator(db):
    return UserFactory(username="administrator", roles=[ADMINISTRATOR])


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider", roles=[])


def pytest_addoption(parser):
    parser.addoption("--screenshots-dir", default="var/screenshots", help="Where browser tests save PNG screenshots.")


@pytest.fixture
def seeded_transactional_db(transactional_db):
    """A transactional database (visible to other processes) with the classification standard re-seeded:
    Django flushes tables, data migrations included, between transactional tests."""
    from labels.models import Category, VerdictLabel
    from labels.standard import load_seed, standard_seed

    standard_seed(load_seed(), Category, VerdictLabel)


@pytest.fixture(autouse=True)
def eager_celery(request):
    """Tasks run in the test process unless the test asks for a real worker (marker celery_worker)."""
    from debunk.celery import app

    if request.node.get_closest_marker("celery_worker"):
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def celery_worker(seeded_transactional_db):
    from tests.celery_worker import start_worker

    yield from start_worker()


@pytest.fixture(autouse=True)
def match_index_isolated(settings, tmp_path):
    """Each test gets its own snapshot directory and a process index loaded from its own database."""
    from debunk.matching.services import reset_caches

    settings.MATCH_INDEX_DIR = str(tmp_path / "match-index")
    settings.MATCH_INDEX_POLL_SECONDS = 0  # check the index version on every call
    reset_caches()
    yield
    reset_caches()


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the site's default language (zh-hans): a request through LocaleMiddleware leaves the
    language it chose (e.g. the test clients' Accept-Language: en) active in the thread after the response."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()
