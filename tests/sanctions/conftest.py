"""Sanctions fixtures: two platforms with keys, a published rumor, and a trace whose first poster is an account
of platform A."""

import hashlib

import pytest

from debunk.matching.models import Post
from debunk.tracing.models import FirstPoster, Trace
from tests.api.conftest import api_client, clear_cache, make_key, make_platform  # noqa: F401 (clear_cache: fixture)
from tests.factories import publish_rumor


def account(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@pytest.fixture
def platform_a(db):
    return make_platform("weibo", "Weibo")


@pytest.fixture
def platform_b(db):
    return make_platform("douyin", "Douyin")


@pytest.fixture
def client_a(platform_a):
    return api_client(make_key(platform_a)[1])


@pytest.fixture
def client_b(platform_b):
    return api_client(make_key(platform_b)[1])


@pytest.fixture
def rumor(checker, reviewer):
    return publish_rumor(checker, reviewer, severity=3)


def trace_with_origin(rumor, platform, author_hash: str, subtree_size: int) -> Trace:
    """A trace of the rumor whose (only) origin is the account's post, with `subtree_size` posts below it."""
    post = Post.objects.create(platform=platform, platform_post_id=f"p-{author_hash[:8]}", text=rumor.claim)
    trace = Trace.objects.create(rumor=rumor, posts=subtree_size + 1, roots=1, evidence_sha256="0" * 64)
    FirstPoster.objects.create(
        trace=trace,
        platform=platform,
        post=post,
        platform_post_id=post.platform_post_id,
        author_hash=author_hash,
        kind=FirstPoster.Kind.SOURCE,
        subtree_size=subtree_size,
    )
    return trace
