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
    assert captions[:6] == [
        "Stock and review",
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
    assert "/admin/debunk/rumor/" in sections["Stock and review"]
    assert "/admin/debunk/correction/" not in sections["Stock and review"]


def test_admin_index_is_chinese_first(client, superuser):
    client.force_login(superuser)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "样本库与审核" in page and "辟谣通知" in page and "溯源与处置" in page
