"""Test data builders. Rumors are built through the services, as the product builds them."""

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from debunk.stock import debunks as debunk_services
from debunk.stock import rumors as rumor_services
from debunk.stock.models import Rumor
from labels.models import Category, VerdictLabel


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-1")

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: Any) -> None:
        if create and extracted:
            self.groups.set(Group.objects.filter(name__in=extracted))
        if create:
            self.save()


def make_rumor(
    by: Any,
    *,
    claim: str = "网传某市自来水厂被污染，全市停水三天",
    verdict: str = "false",
    category: str = "livelihood",
    with_debunk: bool = True,
    title: str = "网传停水三天系谣言",
    summary: str = "自来水厂运行正常，供水未受影响。",
    **fields: Any,
) -> Rumor:
    rumor = rumor_services.rumor_create(
        by=by,
        claim=claim,
        category=Category.objects.get(code=category),
        verdict=VerdictLabel.objects.get(code=verdict),
        **fields,
    )
    if with_debunk:
        debunk_services.debunk_create(
            rumor=rumor,
            by=by,
            title=title,
            summary=summary,
            body="经核实，**供水正常**。",
        )
    return rumor


def publish_rumor(author: Any, reviewer: Any, **fields: Any) -> Rumor:
    """A published rumor (with a debunk), through submit and the four-eyes publish."""
    rumor = make_rumor(author, **fields)
    rumor_services.rumor_submit(rumor=rumor, by=author)
    rumor_services.rumor_publish(rumor=rumor, by=reviewer)
    return rumor
