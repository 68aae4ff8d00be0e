"""The labels admin (categories, verdict labels) writes through labels.services, clicked as an administrator
clicks: every add, change, history revert and delete audited; one that rumors use is refused on the delete
confirmation page (no "Yes" button, a posted confirmation deletes nothing, never a 500)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import translation

from debunk.core.models import AuditEvent
from labels import services
from labels.models import Category, VerdictLabel
from search.services import search_rumors
from tests.factories import make_rumor, publish_rumor

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def category_data(category: Category, **changes: str) -> dict[str, str]:
    data = {
        "code": category.code,
        "parent": str(category.parent_id or ""),
        "name_zh": category.name_zh,
        "name_en": category.name_en,
        "tier": str(category.tier),
        "review_deadline_hours": str(category.review_deadline_hours),
        "position": str(category.position),
    }
    return {**data, **changes}


def verdict_data(verdict: VerdictLabel, **changes: str) -> dict[str, str]:
    fields = ["code", "text_zh", "text_en", "colour", "severity_rank", "claimreview_rating", "claimreview_value"]
    data = {name: str(getattr(verdict, name)) for name in fields}
    data.update(
        default_action=verdict.default_action,
        match_auto_threshold=str(verdict.match_auto_threshold),
        match_review_threshold=str(verdict.match_review_threshold),
        ocr_auto_containment=str(verdict.ocr_auto_containment),
        ocr_review_containment=str(verdict.ocr_review_containment),
        claim_review_threshold=str(verdict.claim_review_threshold),
        claim_auto_threshold="" if verdict.claim_auto_threshold is None else str(verdict.claim_auto_threshold),
    )
    return {**data, **changes}


def new_category(by, code: str = "weather", parent: Category | None = None) -> Category:
    return services.category_save(category=Category(code=code, parent=parent, name_zh="天气", name_en="Weather"), by=by)


# --- categories --------------------------------------------------------------------------------------------------


def test_adding_a_category_is_audited(admin_client, administrator):
    parent = Category.objects.get(code="economy")
    data = category_data(
        Category(tier=3, review_deadline_hours=12, position=90),
        code="finance_scams",
        name_zh=" 金融诈骗 ",
        name_en="Scams",
        parent=str(parent.pk),
    )
    assert admin_client.post(reverse("admin:labels_category_add"), data).status_code == 302
    category = Category.objects.get(code="finance_scams")
    assert (category.parent, category.name_zh) == (parent, "金融诈骗")
    [event] = events("category.create")
    assert event.actor == administrator and event.changes["code"] == [None, "finance_scams"]
    assert category.history.get().history_user == administrator


def test_editing_a_category_is_audited_once(admin_client, administrator):
    category = Category.objects.get(code="transport")
    url = reverse("admin:labels_category_change", args=[category.pk])
    assert admin_client.post(url, category_data(category, review_deadline_hours="7")).status_code == 302
    assert admin_client.post(url, category_data(category, review_deadline_hours="7")).status_code == 302
    [event] = events("category.update")  # the unchanged second save records nothing
    assert event.actor == administrator and event.changes == {
        "review_deadline_hours": [category.review_deadline_hours, 7]
    }


def test_a_category_under_its_own_subtree_is_a_form_error(admin_client, administrator):
    top = new_category(administrator, "weather")
    child = new_category(administrator, "storms", parent=top)
    before = AuditEvent.objects.count()
    for parent in (top, child):
        url = reverse("admin:labels_category_change", args=[top.pk])
        response = admin_client.post(url, category_data(top, parent=str(parent.pk)))
        assert response.status_code == 200
        assert "cannot be placed under itself" in str(response.context["adminform"].form.errors["parent"])
    top.refresh_from_db()
    assert top.parent is None and AuditEvent.objects.count() == before
    with pytest.raises(ValidationError):  # the service refuses it too, whoever calls it
        top.parent = child
        services.category_save(category=top, by=administrator)


def test_a_category_rumors_use_cannot_be_deleted_the_page_says_why(admin_client, checker):
    make_rumor(checker, category="livelihood")
    category = Category.objects.get(code="livelihood")
    url = reverse("admin:labels_category_delete", args=[category.pk])
    page = admin_client.get(url)
    text = page.content.decode()
    assert page.status_code == 200 and "cannot be deleted" in text and "rumors: 1" in text
    assert 'name="post"' not in text
    forged = admin_client.post(url, {"post": "yes"})
    assert forged.status_code == 200 and Category.objects.filter(pk=category.pk).exists()
    assert not events("category.delete")


def test_the_refusal_is_translated(client, administrator, checker):
    make_rumor(checker, category="livelihood")
    client.force_login(administrator)
    category = Category.objects.get(code="livelihood")
    page = client.get(reverse("admin:labels_category_delete", args=[category.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "正在使用" in page.content.decode()


def test_a_category_with_sub_categories_cannot_be_deleted(admin_client, administrator):
    top = new_category(administrator, "weather")
    new_category(administrator, "storms", parent=top)
    page = admin_client.get(reverse("admin:labels_category_delete", args=[top.pk])).content.decode()
    assert "sub-categories: 1" in page and 'name="post"' not in page
    with pytest.raises(ValidationError):
        services.category_delete(category=top, by=administrator)
    assert Category.objects.filter(pk=top.pk).exists()


def test_delete_selected_refuses_all_when_one_is_used_and_deletes_unused_ones(admin_client, administrator, checker):
    make_rumor(checker, category="livelihood")
    used = Category.objects.get(code="livelihood")
    unused = new_category(administrator, "weather")
    changelist = reverse("admin:labels_category_changelist")
    ids = [used.pk, unused.pk]
    confirm = admin_client.post(changelist, {"action": "delete_selected", "_selected_action": ids})
    assert (
        "cannot be deleted" in confirm.content.decode()
        and f"{used}: This category is in use" in confirm.content.decode()
    )
    admin_client.post(changelist, {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert Category.objects.filter(pk__in=ids).count() == 2 and not events("category.delete")
    admin_client.post(changelist, {"action": "delete_selected", "_selected_action": [unused.pk], "post": "yes"})
    assert not Category.objects.filter(pk=unused.pk).exists()
    [event] = events("category.delete")
    assert (event.actor, event.target_id, event.changes["code"]) == (administrator, str(unused.pk), ["weather", None])


def test_deleting_an_unused_category_from_its_page(admin_client, administrator):
    unused = new_category(administrator, "weather")
    url = reverse("admin:labels_category_delete", args=[unused.pk])
    assert 'name="post"' in admin_client.get(url).content.decode()
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Category.objects.filter(pk=unused.pk).exists() and len(events("category.delete")) == 1


def test_a_history_revert_goes_through_the_service(admin_client, administrator):
    category = Category.objects.get(code="transport")
    url = reverse("admin:labels_category_change", args=[category.pk])
    admin_client.post(url, category_data(category, review_deadline_hours="7"))
    admin_client.post(url, category_data(category, review_deadline_hours="8"))
    first = category.history.order_by("history_id").first()  # the version with 7 hours
    revert = reverse("admin:labels_category_simple_history", args=[category.pk, first.history_id])
    assert admin_client.get(revert).status_code == 200
    assert admin_client.post(revert, category_data(category, review_deadline_hours="7")).status_code == 302
    category.refresh_from_db()
    assert category.review_deadline_hours == 7
    last = events("category.update")[-1]
    assert (last.actor, last.changes) == (administrator, {"review_deadline_hours": [8, 7]})


def test_reviewers_cannot_edit_or_delete_the_standard(client, reviewer):
    client.force_login(reviewer)
    category = Category.objects.get(code="transport")
    url = reverse("admin:labels_category_change", args=[category.pk])
    assert client.post(url, category_data(category, name_en="Hacked")).status_code == 403
    assert client.post(reverse("admin:labels_category_delete", args=[category.pk]), {"post": "yes"}).status_code == 403
    category.refresh_from_db()
    assert category.name_en == "Transport"
    with pytest.raises(PermissionDenied):
        services.category_save(category=category, by=None)


# --- verdict labels ----------------------------------------------------------------------------------------------


def test_editing_a_verdict_label_is_audited(admin_client, administrator):
    verdict = VerdictLabel.objects.get(code="misleading")
    url = reverse("admin:labels_verdictlabel_change", args=[verdict.pk])
    assert admin_client.post(url, verdict_data(verdict, colour="#123456")).status_code == 302
    [event] = events("verdict.update")
    assert event.actor == administrator and event.changes == {"colour": [verdict.colour, "#123456"]}


def test_bad_thresholds_are_form_errors(admin_client):
    verdict = VerdictLabel.objects.get(code="misleading")
    url = reverse("admin:labels_verdictlabel_change", args=[verdict.pk])
    for changes, field in [
        ({"match_auto_threshold": "1.5"}, "match_auto_threshold"),
        ({"match_review_threshold": "-0.1"}, "match_review_threshold"),
        ({"match_auto_threshold": "0.5", "match_review_threshold": "0.6"}, "match_review_threshold"),
    ]:
        response = admin_client.post(url, verdict_data(verdict, **changes))
        assert response.status_code == 200 and field in response.context["adminform"].form.errors, changes
    assert not events("verdict.update")
    assert VerdictLabel.objects.get(pk=verdict.pk).match_auto_threshold == verdict.match_auto_threshold


def test_claim_thresholds_are_editable_and_checked(admin_client, administrator):
    verdict = VerdictLabel.objects.get(code="misleading")
    url = reverse("admin:labels_verdictlabel_change", args=[verdict.pk])
    for changes, field in [
        ({"claim_review_threshold": "1.2"}, "claim_review_threshold"),
        ({"claim_auto_threshold": "-0.5"}, "claim_auto_threshold"),
        ({"claim_auto_threshold": "0.4", "claim_review_threshold": "0.5"}, "claim_review_threshold"),
    ]:
        response = admin_client.post(url, verdict_data(verdict, **changes))
        assert response.status_code == 200 and field in response.context["adminform"].form.errors, changes
    assert not events("verdict.update")
    # no auto threshold: the claim tier only suggests, whatever the review threshold
    assert admin_client.post(url, verdict_data(verdict, claim_review_threshold="0.9")).status_code == 302
    verdict.refresh_from_db()
    assert admin_client.post(url, verdict_data(verdict, claim_auto_threshold="0.95")).status_code == 302
    verdict.refresh_from_db()
    assert (verdict.claim_review_threshold, verdict.claim_auto_threshold) == (0.9, 0.95)
    changes = [e.changes for e in events("verdict.update")]
    assert changes == [{"claim_review_threshold": [0.4, 0.9]}, {"claim_auto_threshold": [None, 0.95]}]


def test_the_calibration_is_shown_read_only(admin_client):
    verdict = VerdictLabel.objects.get(code="misleading")
    url = reverse("admin:labels_verdictlabel_change", args=[verdict.pk])
    assert "Not calibrated" in admin_client.get(url).content.decode()
    record = {"command": "calibrate_claims", "dataset": "claims_zh_checked.jsonl", "at": "2026-12-03T10:00:00Z"}
    verdict.calibration = {"claim_review_threshold": {**record, "precision": 0.9512, "recall": 0.61, "folds": 5}}
    verdict.save()
    page = admin_client.get(url).content.decode()
    assert 'class="threshold-calibration"' in page
    for shown in [
        "calibrate_claims",
        "claims_zh_checked.jsonl",
        "0.951",
        "0.610",
        ">5<",
        "claim_review_threshold = 0.4",
    ]:
        assert shown in page, shown
    assert 'name="calibration"' not in page  # read-only: not a form field
    # a post cannot change it either
    admin_client.post(url, {**verdict_data(verdict), "calibration": "{}"})
    verdict.refresh_from_db()
    assert verdict.calibration["claim_review_threshold"]["folds"] == 5


def test_a_verdict_rumors_use_cannot_be_deleted(admin_client, checker):
    make_rumor(checker, verdict="misleading")
    verdict = VerdictLabel.objects.get(code="misleading")
    url = reverse("admin:labels_verdictlabel_delete", args=[verdict.pk])
    text = admin_client.get(url).content.decode()
    assert "cannot be deleted" in text and "rumors: 1" in text and 'name="post"' not in text
    assert admin_client.post(url, {"post": "yes"}).status_code == 200
    assert VerdictLabel.objects.filter(pk=verdict.pk).exists() and not events("verdict.delete")


def test_a_verdict_a_sanction_rule_uses_cannot_be_deleted(administrator):
    from debunk.sanctions.models import SanctionRule

    verdict = VerdictLabel.objects.get(code="unverified")
    SanctionRule.objects.create(name="r", verdict=verdict, effect="set", measure="warning")
    with translation.override("en"), pytest.raises(ValidationError, match="sanction rules: 1"):
        services.verdict_delete(verdict=verdict, by=administrator)


def test_an_unused_verdict_is_deleted_through_the_service(admin_client, administrator):
    verdict = services.verdict_save(
        verdict=VerdictLabel(
            code="satire",
            text_zh="讽刺",
            text_en="Satire",
            colour="#999999",
            severity_rank=1,
            claimreview_rating="Satire",
            claimreview_value=3,
            default_action="allow",
        ),
        by=administrator,
    )
    assert (
        admin_client.post(reverse("admin:labels_verdictlabel_delete", args=[verdict.pk]), {"post": "yes"}).status_code
        == 302
    )
    assert not VerdictLabel.objects.filter(pk=verdict.pk).exists()
    assert [e.actor for e in events("verdict.delete")] == [administrator]


def test_a_new_verdict_code_is_searchable(admin_client, checker, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        rumor = publish_rumor(checker, reviewer)
    verdict = rumor.verdict
    assert [h.rumor.pk for h in search_rumors("停水", verdict=verdict.code).hits] == [rumor.pk]
    url = reverse("admin:labels_verdictlabel_change", args=[verdict.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(url, verdict_data(verdict, code="rumour")).status_code == 302
    assert [h.rumor.pk for h in search_rumors("停水", verdict="rumour").hits] == [rumor.pk]
    assert search_rumors("停水", verdict=verdict.code).total == 0
