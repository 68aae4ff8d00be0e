"""Every admin delete and inline edit goes through the stock services, clicked as a user clicks: the real admin
forms posted with their inline management forms. A published rumor keeps a debunk, its evidence is never deleted,
every write leaves an audit event, and a deleted debunk leaves the match and search indexes."""

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models.fields.files import FieldFile
from django.urls import reverse
from PIL import Image

from debunk.core.models import AuditEvent
from debunk.matching.models import IndexChange
from debunk.stock import attachments as attachment_services
from debunk.stock import debunks as debunk_services
from debunk.stock import rumors as rumor_services
from debunk.stock.models import Attachment, Debunk, DebunkSource, RumorSource, RumorVariant
from search.services import search_rumors
from tests.factories import make_rumor, publish_rumor

INLINE = {"variants": 0, "sources": 1, "debunks": 2, "attachments": 3}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def form_data(response) -> dict:
    """What the browser would post back unchanged: every field of the change form and of its inline forms."""
    data: dict = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms.append(inline.formset.management_form)
        forms.extend(inline.formset.forms)
    for form in forms:
        for field in form:
            value = field.value()
            if value is None or isinstance(value, FieldFile) or value is False:
                continue
            if value is True:
                data[field.html_name] = "on"
            elif isinstance(value, list | tuple):
                data[field.html_name] = [str(v) for v in value]
            else:
                data[field.html_name] = str(value)
    return data


def open_change_page(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200
    return form_data(response)


def rumor_url(rumor) -> str:
    return reverse("admin:debunk_rumor_change", args=[rumor.pk])


def row(data: dict, prefix: str, pk: int) -> int:
    """The index of the inline form showing the row `pk`."""
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    return next(i for i in range(total) if data.get(f"{prefix}-{i}-id") == str(pk))


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


def png(colour: str = "blue") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 10), colour).save(out, format="PNG")
    return out.getvalue()


def add_attachment(rumor, by, role: str) -> Attachment:
    return attachment_services.attachment_add(rumor=rumor, by=by, upload=io.BytesIO(png()), name="a.png", role=role)


# --- the Debunk admin's delete view -----------------------------------------------------------------------------


def test_delete_confirmation_page_says_the_last_debunk_of_a_published_rumor_stays(client, checker, reviewer):
    rumor = publish_rumor(checker, reviewer)
    debunk = rumor.debunks.get()
    client.force_login(reviewer)
    url = reverse("admin:debunk_debunk_delete", args=[debunk.pk])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200
    text = page.content.decode()
    assert "已发布的谣言至少保留一篇辟谣文章" in text  # the refusal, translated, before anyone confirms
    assert "不能删除" in text and 'name="post"' not in text  # no "Yes, I'm sure" button
    before = actions()
    forged = client.post(url, {"post": "yes"}, HTTP_ACCEPT_LANGUAGE="en")  # a confirmation posted anyway
    assert forged.status_code == 200 and "keeps at least one debunk" in forged.content.decode()
    assert Debunk.objects.filter(pk=debunk.pk).exists()
    assert actions() == before


def test_delete_confirmation_page_of_a_debunk_that_can_go_has_the_button(client, checker, reviewer):
    rumor = publish_rumor(checker, reviewer)
    debunk_services.debunk_create(rumor=rumor, by=checker, title="第二篇", summary="s", body="b")
    client.force_login(reviewer)
    page = client.get(reverse("admin:debunk_debunk_delete", args=[rumor.debunks.first().pk]))
    assert page.status_code == 200 and 'name="post"' in page.content.decode()


def test_delete_view_refusal_after_confirming_is_a_message(client, checker, reviewer, monkeypatch):
    """Should the service refuse after the page allowed it (another reviewer deleted the other debunk meanwhile),
    the user gets the refusal as a message, not a 500."""
    from debunk.stock.admin import DebunkAdmin

    rumor = publish_rumor(checker, reviewer)
    debunk = rumor.debunks.get()
    monkeypatch.setattr(DebunkAdmin, "delete_refusals", lambda self, objs: [])  # the page saw two debunks
    client.force_login(reviewer)
    before = actions()
    response = client.post(reverse("admin:debunk_debunk_delete", args=[debunk.pk]), {"post": "yes"})
    assert response.status_code == 302 and response.url == reverse("admin:debunk_debunk_change", args=[debunk.pk])
    assert Debunk.objects.filter(pk=debunk.pk).exists()
    assert actions() == before
    page = client.get(response.url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "已发布的谣言至少保留一篇辟谣文章" in page


def test_delete_view_deletes_through_the_service_with_audit_and_index_updates(
    client, checker, reviewer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rumor = publish_rumor(checker, reviewer, title="鲸鱼搁浅旧文", summary="鲸鱼")
        old = rumor.debunks.get()
        debunk_services.debunk_create(rumor=rumor, by=checker, title="熊猫出逃新文", summary="熊猫", body="熊猫")
    assert [h.rumor.pk for h in search_rumors("鲸鱼搁浅").hits] == [rumor.pk]
    bumps = IndexChange.objects.filter(rumor_id=rumor.pk).count()
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:debunk_debunk_delete", args=[old.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Debunk.objects.filter(pk=old.pk).exists()
    event = AuditEvent.objects.get(action="debunk.delete")
    assert (event.actor, event.target_id, event.changes["title"]) == (reviewer, str(old.pk), [old.title, None])
    assert IndexChange.objects.filter(rumor_id=rumor.pk).count() == bumps + 1
    assert search_rumors("鲸鱼搁浅").total == 0  # the deleted title is no longer searchable
    assert [h.rumor.pk for h in search_rumors("熊猫出逃").hits] == [rumor.pk]


def test_fact_checker_cannot_delete_a_debunk(client, checker):
    rumor = make_rumor(checker)
    client.force_login(checker)
    response = client.post(reverse("admin:debunk_debunk_delete", args=[rumor.debunks.get().pk]), {"post": "yes"})
    assert response.status_code == 403
    assert rumor.debunks.count() == 1


# --- the changelist's "delete selected" -------------------------------------------------------------------------


def test_delete_selected_confirmation_says_a_published_rumor_keeps_a_debunk(client, checker, reviewer):
    rumor = publish_rumor(checker, reviewer)
    debunk_services.debunk_create(rumor=rumor, by=checker, title="第二篇", summary="s", body="b")
    draft = make_rumor(checker, claim="草稿谣言")
    ids = [str(pk) for pk in [*rumor.debunks.values_list("pk", flat=True), draft.debunks.get().pk]]
    client.force_login(reviewer)
    url = reverse("admin:debunk_debunk_changelist")
    confirm = client.post(url, {"action": "delete_selected", "_selected_action": ids}, HTTP_ACCEPT_LANGUAGE="en")
    text = confirm.content.decode()
    assert confirm.status_code == 200 and "cannot be deleted" in text and "keeps at least one debunk" in text
    assert 'name="post"' not in text
    response = client.post(url, {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert response.status_code == 200 and Debunk.objects.count() == 3  # all or nothing, as Django's protected rows
    assert not AuditEvent.objects.filter(action="debunk.delete").exists()


def test_delete_selected_goes_through_the_service(client, checker, reviewer):
    rumor = publish_rumor(checker, reviewer)
    second = debunk_services.debunk_create(rumor=rumor, by=checker, title="第二篇", summary="s", body="b")
    draft = make_rumor(checker, claim="草稿谣言")
    ids = [str(second.pk), str(draft.debunks.get().pk)]
    client.force_login(reviewer)
    url = reverse("admin:debunk_debunk_changelist")
    confirm = client.post(url, {"action": "delete_selected", "_selected_action": ids})
    assert confirm.status_code == 200 and 'name="post"' in confirm.content.decode()
    response = client.post(url, {"action": "delete_selected", "_selected_action": ids, "post": "yes"}, follow=True)
    assert response.status_code == 200
    assert list(rumor.debunks.all()) != [] and not Debunk.objects.filter(pk=second.pk).exists()
    assert not draft.debunks.exists()  # a draft's debunk can go
    assert set(AuditEvent.objects.filter(action="debunk.delete").values_list("actor__username", "target_id")) == {
        ("reviewer", str(second.pk)),
        ("reviewer", str(ids[1])),
    }


# --- the rumor page's inlines -----------------------------------------------------------------------------------


def test_inline_delete_of_the_last_debunk_of_a_published_rumor_is_a_form_error(client, checker, reviewer):
    rumor = publish_rumor(checker, reviewer)
    debunk = rumor.debunks.get()
    client.force_login(reviewer)
    data = open_change_page(client, rumor_url(rumor))
    data[f"debunks-{row(data, 'debunks', debunk.pk)}-DELETE"] = "on"
    before = actions()
    response = client.post(rumor_url(rumor), data)
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][INLINE["debunks"]].formset.non_form_errors()
    assert errors and ("at least one debunk" in errors[0] or "至少" in errors[0])
    assert Debunk.objects.filter(pk=debunk.pk).exists() and actions() == before


def test_inline_delete_of_a_debunk_goes_through_the_service(client, checker, reviewer):
    rumor = publish_rumor(checker, reviewer)
    old = rumor.debunks.get()
    debunk_services.debunk_create(rumor=rumor, by=checker, title="更正后的辟谣", summary="s", body="b")
    bumps = IndexChange.objects.filter(rumor_id=rumor.pk).count()
    client.force_login(reviewer)
    data = open_change_page(client, rumor_url(rumor))
    data[f"debunks-{row(data, 'debunks', old.pk)}-DELETE"] = "on"
    response = client.post(rumor_url(rumor), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(rumor.debunks.values_list("title", flat=True)) == ["更正后的辟谣"]
    assert AuditEvent.objects.get(action="debunk.delete").actor == reviewer
    assert IndexChange.objects.filter(rumor_id=rumor.pk).count() > bumps


def test_inline_delete_of_published_evidence_is_a_form_error(client, checker, reviewer):
    rumor = publish_rumor(checker, reviewer)
    evidence = add_attachment(rumor, checker, Attachment.Role.EVIDENCE)
    client.force_login(reviewer)
    data = open_change_page(client, rumor_url(rumor))
    data[f"attachments-{row(data, 'attachments', evidence.pk)}-DELETE"] = "on"
    before = actions()
    response = client.post(rumor_url(rumor), data)
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][INLINE["attachments"]].formset.non_form_errors()
    assert errors and ("never deleted" in errors[0] or "不得删除" in errors[0] or "不会" in errors[0])
    assert Attachment.objects.filter(pk=evidence.pk).exists() and actions() == before


def test_inline_delete_of_a_draft_attachment_is_audited_and_removes_the_file(
    client, checker, django_capture_on_commit_callbacks
):
    rumor = make_rumor(checker)
    image = add_attachment(rumor, checker, Attachment.Role.RUMOR_IMAGE)
    stored = image.file.path
    client.force_login(checker)
    data = open_change_page(client, rumor_url(rumor))
    data[f"attachments-{row(data, 'attachments', image.pk)}-DELETE"] = "on"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(rumor_url(rumor), data)
    assert response.status_code == 302
    assert not Attachment.objects.exists()
    event = AuditEvent.objects.get(action="attachment.remove")
    assert event.actor == checker and event.changes["sha256"] == [image.sha256, None]
    assert not os.path.exists(stored)


def test_inline_edits_and_deletes_of_variants_and_sources_are_audited(client, checker):
    rumor = make_rumor(checker)
    keep = rumor_services.variant_add(rumor=rumor, by=checker, text="变体一")
    drop = rumor_services.variant_add(rumor=rumor, by=checker, text="变体二")
    source = rumor_services.source_add(rumor=rumor, by=checker, url="https://example.com/a", title="甲")
    gone = rumor_services.source_add(rumor=rumor, by=checker, url="https://example.com/b", title="乙")
    client.force_login(checker)
    data = open_change_page(client, rumor_url(rumor))
    data[f"variants-{row(data, 'variants', keep.pk)}-text"] = "变体一（改）"
    data[f"variants-{row(data, 'variants', drop.pk)}-DELETE"] = "on"
    data[f"sources-{row(data, 'sources', source.pk)}-title"] = "甲（改）"
    data[f"sources-{row(data, 'sources', gone.pk)}-DELETE"] = "on"
    n = int(data["sources-TOTAL_FORMS"])
    data.update(
        {"sources-TOTAL_FORMS": str(n + 1), f"sources-{n}-url": "https://example.com/c", f"sources-{n}-title": "丙"}
    )
    start = AuditEvent.objects.count()
    response = client.post(rumor_url(rumor), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(RumorVariant.objects.filter(rumor=rumor).values_list("text", flat=True)) == ["变体一（改）"]
    assert sorted(RumorSource.objects.filter(rumor=rumor).values_list("title", flat=True)) == ["丙", "甲（改）"]
    new = sorted(
        AuditEvent.objects.filter(pk__gt=AuditEvent.objects.order_by("pk")[start - 1].pk).values_list(
            "action", flat=True
        )
    )
    assert new == ["source.add", "source.remove", "source.update", "variant.remove", "variant.update"]
    update = AuditEvent.objects.get(action="source.update")
    assert update.changes == {"title": ["甲", "甲（改）"]}


def test_inline_edit_of_a_published_debunk_is_audited_and_reindexed(
    client, checker, reviewer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rumor = publish_rumor(checker, reviewer)
    debunk = rumor.debunks.get()
    client.force_login(reviewer)
    data = open_change_page(client, rumor_url(rumor))
    data[f"debunks-{row(data, 'debunks', debunk.pk)}-title"] = "自来水水质检测合格"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(rumor_url(rumor), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    event = AuditEvent.objects.get(action="debunk.update")
    assert (event.actor, event.changes["title"]) == (reviewer, ["网传停水三天系谣言", "自来水水质检测合格"])
    assert [h.rumor.pk for h in search_rumors("水质检测").hits] == [rumor.pk]


def test_inline_attachment_add_goes_through_the_service(client, checker):
    rumor = make_rumor(checker)
    client.force_login(checker)
    data = open_change_page(client, rumor_url(rumor))
    n = int(data["attachments-TOTAL_FORMS"])
    data.update(
        {
            "attachments-TOTAL_FORMS": str(n + 1),
            f"attachments-{n}-role": "evidence",
            f"attachments-{n}-file": SimpleUploadedFile("e.png", png("red"), content_type="image/png"),
        }
    )
    response = client.post(rumor_url(rumor), data)
    assert response.status_code == 302
    assert AuditEvent.objects.get(action="attachment.add").actor == checker
    assert Attachment.objects.get().uploaded_by == checker


# --- the Debunk admin's source inline ---------------------------------------------------------------------------


def test_debunk_page_source_inline_edits_and_deletes_are_audited(client, checker):
    rumor = make_rumor(checker)
    debunk = rumor.debunks.get()
    keep = debunk_services.debunk_source_add(debunk=debunk, by=checker, title="通报", url="https://gov.example/a")
    drop = debunk_services.debunk_source_add(debunk=debunk, by=checker, title="旧", url="https://gov.example/b")
    client.force_login(checker)
    url = reverse("admin:debunk_debunk_change", args=[debunk.pk])
    data = open_change_page(client, url)
    data[f"sources-{row(data, 'sources', keep.pk)}-title"] = "官方通报"
    data[f"sources-{row(data, 'sources', drop.pk)}-DELETE"] = "on"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(DebunkSource.objects.values_list("title", flat=True)) == ["官方通报"]
    assert AuditEvent.objects.get(action="debunk_source.update").changes == {"title": ["通报", "官方通报"]}
    removed = AuditEvent.objects.get(action="debunk_source.remove")
    assert (removed.actor, removed.changes["url"]) == (checker, ["https://gov.example/b", None])


# --- the services themselves refuse, whoever calls them ----------------------------------------------------------


def test_services_refuse_without_an_actor_and_keep_published_records(checker, reviewer):
    from django.core.exceptions import PermissionDenied, ValidationError

    rumor = publish_rumor(checker, reviewer)
    evidence = add_attachment(rumor, checker, Attachment.Role.EVIDENCE)
    with pytest.raises(PermissionDenied):
        debunk_services.debunk_delete(debunk=rumor.debunks.get(), by=None)
    with pytest.raises(ValidationError) as exc:
        debunk_services.debunk_delete(debunk=rumor.debunks.get(), by=reviewer)
    assert exc.value.code == "last_debunk"
    with pytest.raises(ValidationError) as exc:
        attachment_services.attachment_remove(attachment=evidence, by=reviewer)
    assert exc.value.code == "published_evidence"
    rumor_services.rumor_retract(rumor=rumor, by=reviewer, reason="错判")
    with pytest.raises(ValidationError):  # retracted, it stays on the record
        attachment_services.attachment_remove(attachment=evidence, by=reviewer)
    assert rumor.debunks.count() == 1 and Attachment.objects.count() == 1


# --- the workflow table ------------------------------------------------------------------------------------------


def test_admin_buttons_are_the_workflow_tables_steps(client, checker, reviewer):
    rumor = make_rumor(checker)
    rumor_services.rumor_submit(rumor=rumor, by=checker)
    client.force_login(reviewer)
    page = client.get(rumor_url(rumor))
    shown = [name for name, _label in page.context["transitions"]]
    assert shown == ["publish", "return"]
    assert shown == [n for n, step in rumor_services.WORKFLOW.items() if rumor.status in step.sources and n != "expire"]
    assert {
        "draft": {"in_review"},
        "in_review": {"draft", "published"},
        "published": {"retracted", "expired"},
        "retracted": {"draft"},
        "expired": {"draft"},
    } == rumor_services.TRANSITIONS
    refused = client.post(reverse("admin:debunk_rumor_transition", args=[rumor.pk, "expire"]), {})
    assert refused.status_code == 403  # not a button: the scheduler's step
