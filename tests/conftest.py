import pytest

from debunk.services.roles import ADMINISTRATOR, FACT_CHECKER, REVIEWER
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
