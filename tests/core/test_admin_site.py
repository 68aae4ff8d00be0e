"""The admin's index shows the product's parts as sections, in the order fact-checkers work."""

import re

import pytest

from tests.factories import UserFactory


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def test_admin_index_lists_the_parts_as_sections(client, superuser):
    client.force_login(superuser)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    captions = re.findall(r'<caption>\s*<a[^>]*class="section"[^>]*>([^<]+)</a>', page)
    assert captions[:8] == [
        "Stock and review",
        "Reports and leads",
        "Early warning",
        "Matches",
        "Corrections",
        "Tracing and sanctions",
        "Platforms and keys",
        "Audit",
    ]
    sections = dict(re.findall(r'<caption>\s*<a[^>]*class="section"[^>]*>([^<]+)</a>(.*?)</table>', page, re.S))
    assert "/admin/debunk/correction/" in sections["Corrections"]
    assert "/admin/debunk/sanction/" in sections["Tracing and sanctions"]
    assert "/admin/debunk/apikey/" in sections["Platforms and keys"]
    assert "/admin/debunk/auditevent/" in sections["Audit"]
    assert "/admin/debunk/alert/" in sections["Early warning"]
    assert "/admin/debunk/rumor/" in sections["Stock and review"]
    assert "/admin/debunk/correction/" not in sections["Stock and review"]


def test_admin_index_is_chinese_first(client, superuser):
    client.force_login(superuser)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "样本库与审核" in page and "辟谣通知" in page and "溯源与处置" in page


def breadcrumbs(client, url: str, language: str, method: str = "get", data: dict | None = None) -> list[str]:
    """The breadcrumbs' texts, the middle link among them."""
    response = getattr(client, method)(url, data or {}, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, url
    crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', response.content.decode(), re.S)
    assert crumbs, url
    return [" ".join(text.split()) for text in re.findall(r"<a [^>]*>([^<]*)</a>", crumbs.group(1))]


@pytest.mark.parametrize(
    "language, stock, corrections, labels",
    [
        ("zh-hans", "样本库与审核", "辟谣通知", "分类标准"),
        ("en", "Stock and review", "Corrections", "Classification standard"),
    ],
)
def test_breadcrumbs_name_the_models_section(client, superuser, language, stock, corrections, labels):
    from debunk.stock.models import Debunk
    from labels.models import Category
    from tests.factories import make_rumor

    rumor = make_rumor(superuser)
    debunk = Debunk.objects.get(rumor=rumor)
    version = rumor.history.first()
    client.force_login(superuser)
    pages = {
        "/admin/debunk/correction/": corrections,
        "/admin/debunk/rumor/": stock,
        "/admin/debunk/rumor/add/": stock,
        f"/admin/debunk/rumor/{rumor.pk}/change/": stock,
        f"/admin/debunk/rumor/{rumor.pk}/history/": stock,
        f"/admin/debunk/rumor/{rumor.pk}/history/{version.history_id}/": stock,
        f"/admin/debunk/debunk/{debunk.pk}/delete/": stock,
        "/admin/debunk/allowlistentry/": "匹配" if language == "zh-hans" else "Matches",
        "/admin/labels/category/": labels,  # another app: its own name, as before
    }
    for url, section in pages.items():
        crumbs = breadcrumbs(client, url, language)
        assert crumbs[1] == section, (url, crumbs)
    selected = {"action": "delete_selected", "_selected_action": [debunk.pk]}
    assert breadcrumbs(client, "/admin/debunk/debunk/", language, "post", selected)[1] == stock
    category = Category.objects.first()
    assert breadcrumbs(client, f"/admin/labels/category/{category.pk}/change/", language)[1] == labels
