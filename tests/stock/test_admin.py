"""The admin goes through the services: forms refuse bad input, buttons respect the workflow rules."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from debunk.core.models import AuditEvent
from debunk.stock import rumors as svc
from debunk.stock.models import Attachment, Rumor
from labels.models import Category, VerdictLabel
from tests.factories import make_rumor

INLINES = ["variants", "sources", "debunks", "attachments", "image_fingerprints"]


def management(**totals):
    data = {}
    for prefix in INLINES:
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": str(totals.get(prefix, 0)),
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return data


def rumor_form(**overrides):
    data = {
        "claim": "网传某高速明天起全线封闭",
        "category": Category.objects.get(code="transport").pk,
        "verdict": VerdictLabel.objects.get(code="false").pk,
        "severity": "3",
        **management(),
    }
    data.update(overrides)
    return data


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_add_rumor_with_variant_and_debunk_through_admin(client, checker):
    client.force_login(checker)
    data = rumor_form(**management(variants=1, debunks=1))
    data.update(
        {
            "variants-0-text": "某高速明天封闭！",
            "debunks-0-title": "高速封闭系谣言",
            "debunks-0-summary": "交通部门表示高速正常通行。",
            "debunks-0-body": "经核实……",
            "debunks-0-language": "zh-hans",
        }
    )
    response = client.post(reverse("admin:debunk_rumor_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    rumor = Rumor.objects.get()
    assert (rumor.created_by, rumor.status) == (checker, "draft")
    assert rumor.variants.get().text == "某高速明天封闭！"
    assert rumor.debunks.get().created_by == checker
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {"rumor.create", "variant.add", "debunk.create"}


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"claim": ""}, "claim"),
        ({"category": "99999"}, "category"),
        ({"verdict": "99999"}, "verdict"),
        ({"severity": "7"}, "severity"),
    ],
)
def test_admin_form_refuses_bad_fields(client, checker, overrides, field):
    client.force_login(checker)
    response = client.post(reverse("admin:debunk_rumor_add"), rumor_form(**overrides))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert Rumor.objects.count() == 0


def test_upload_that_is_not_an_image_is_a_form_error(client, checker):
    rumor = make_rumor(checker)
    client.force_login(checker)
    data = rumor_form(claim=rumor.claim, **management(attachments=1))
    data.update(
        {
            "attachments-0-role": "rumor_image",
            "attachments-0-file": SimpleUploadedFile("photo.jpg", b"MZ\x90\x00" + bytes(range(256)) * 8),
        }
    )
    response = client.post(reverse("admin:debunk_rumor_change", args=[rumor.pk]), data)
    assert response.status_code == 200
    errors = str(response.context["inline_admin_formsets"][3].formset.errors)
    assert "Upload an image" in errors or "上传" in errors
    assert Attachment.objects.count() == 0


def test_upload_of_a_real_image_through_admin(client, checker):
    rumor = make_rumor(checker)
    client.force_login(checker)
    png = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(png, format="PNG")
    data = rumor_form(claim=rumor.claim, **management(attachments=1))
    data.update(
        {
            "attachments-0-role": "evidence",
            "attachments-0-caption": "截图",
            "attachments-0-file": SimpleUploadedFile("s.png", png.getvalue(), content_type="image/png"),
        }
    )
    response = client.post(reverse("admin:debunk_rumor_change", args=[rumor.pk]), data)
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert (attachment.width, attachment.height, attachment.caption) == (40, 30, "截图")


def test_publish_button_refuses_own_rumor_with_a_message(client, reviewer):
    rumor = make_rumor(reviewer)
    svc.rumor_submit(rumor=rumor, by=reviewer)
    client.force_login(reviewer)
    url = reverse("admin:debunk_rumor_transition", args=[rumor.pk, "publish"])
    response = client.post(url, {})
    assert response.status_code == 400
    assert "Four-eyes" in response.content.decode() or "双人" in response.content.decode()
    rumor.refresh_from_db()
    assert rumor.status == Rumor.Status.IN_REVIEW


def test_publish_button_by_another_reviewer(client, checker, reviewer):
    rumor = make_rumor(checker)
    svc.rumor_submit(rumor=rumor, by=checker)
    client.force_login(reviewer)
    response = client.post(reverse("admin:debunk_rumor_transition", args=[rumor.pk, "publish"]), {})
    assert response.status_code == 302
    rumor.refresh_from_db()
    assert rumor.status == Rumor.Status.PUBLISHED


def test_fact_checker_has_no_publish_button_and_cannot_post_it(client, checker):
    rumor = make_rumor(checker)
    svc.rumor_submit(rumor=rumor, by=checker)
    client.force_login(checker)
    page = client.get(reverse("admin:debunk_rumor_change", args=[rumor.pk])).content.decode()
    assert "transition-publish" not in page
    response = client.post(reverse("admin:debunk_rumor_transition", args=[rumor.pk, "publish"]), {})
    assert response.status_code == 403


def test_retract_needs_a_reason_in_the_form(client, checker, reviewer):
    rumor = make_rumor(checker)
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    client.force_login(reviewer)
    url = reverse("admin:debunk_rumor_transition", args=[rumor.pk, "retract"])
    assert client.post(url, {"reason": ""}).status_code == 200
    rumor.refresh_from_db()
    assert rumor.status == Rumor.Status.PUBLISHED
    assert client.post(url, {"reason": "权威部门更新了通报"}).status_code == 302
    rumor.refresh_from_db()
    assert (rumor.status, rumor.status_reason) == (Rumor.Status.RETRACTED, "权威部门更新了通报")


def test_bulk_retract_asks_for_a_reason_first(client, checker, reviewer):
    rumors = [make_rumor(checker, claim=f"谣言{i}") for i in range(2)]
    for rumor in rumors:
        svc.rumor_submit(rumor=rumor, by=checker)
        svc.rumor_publish(rumor=rumor, by=reviewer)
    client.force_login(reviewer)
    url = reverse("admin:debunk_rumor_changelist")
    ids = [str(r.pk) for r in rumors]
    first = client.post(url, {"action": "retract_selected", "_selected_action": ids})
    assert first.status_code == 200 and b"reason" in first.content
    assert Rumor.objects.filter(status="retracted").count() == 0
    client.post(url, {"action": "retract_selected", "_selected_action": ids, "apply": "1", "reason": "批量撤回"})
    assert Rumor.objects.filter(status="retracted", status_reason="批量撤回").count() == 2


def test_review_queue_puts_overdue_first(client, checker, reviewer):
    from datetime import timedelta

    from django.utils import timezone

    later = make_rumor(checker, claim="后到期", category="other")
    sooner = make_rumor(checker, claim="先到期", category="heroes_martyrs")
    for rumor in (later, sooner):
        svc.rumor_submit(rumor=rumor, by=checker)
    Rumor.objects.filter(pk=later.pk).update(review_due_at=timezone.now() - timedelta(hours=3))
    make_rumor(checker, claim="草稿不在队列")
    client.force_login(reviewer)
    response = client.get(reverse("admin:debunk_reviewitem_changelist"))
    rows = [r.claim for r in response.context["cl"].result_list]
    assert rows == ["后到期", "先到期"]
    overdue = client.get(reverse("admin:debunk_reviewitem_changelist"), {"deadline": "overdue"})
    assert [r.claim for r in overdue.context["cl"].result_list] == ["后到期"]


def test_retracted_rumor_is_read_only_and_never_deletable(client, checker, reviewer):
    rumor = make_rumor(checker)
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    svc.rumor_retract(rumor=rumor, by=reviewer, reason="r")
    client.force_login(reviewer)
    page = client.get(reverse("admin:debunk_rumor_change", args=[rumor.pk]))
    assert page.context["has_change_permission"] is False
    assert "transition-reopen" in page.content.decode()
    assert client.post(reverse("admin:debunk_rumor_delete", args=[rumor.pk]), {"post": "yes"}).status_code == 403


@pytest.mark.parametrize("name", ["rumor", "reviewitem", "debunk", "auditevent", "platform"])
def test_changelists_render_for_reviewers(client, reviewer, checker, name):
    make_rumor(checker)
    client.force_login(reviewer)
    assert client.get(reverse(f"admin:debunk_{name}_changelist")).status_code == 200


def test_history_page_shows_changes(client, checker):
    rumor = make_rumor(checker)
    svc.rumor_update(rumor=rumor, by=checker, severity=5)
    client.force_login(checker)
    response = client.get(reverse("admin:debunk_rumor_history", args=[rumor.pk]))
    assert response.status_code == 200
    assert "checker" in response.content.decode()
