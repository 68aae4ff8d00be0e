"""Pictures in the admin: posts' pictures are private (streamed and previewed by the post admin's own views, to staff
who may view posts or matches), a rumor's page shows its images' fingerprints and the posts that matched it."""

import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils.html import strip_tags
from PIL import Image

from debunk.api.models import Platform
from debunk.images.models import ImageFingerprint
from debunk.images.services import query_image
from debunk.matching.models import Match, Post
from debunk.matching.services import MatchRequest, match_many
from tests.factories import UserFactory
from tests.images.test_match_api import encode, picture, rumor_with_image


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def english_admin(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def platform(db):
    return Platform.objects.create(code="weibo", name="微博")


@pytest.fixture
def rumor(checker, reviewer):
    return rumor_with_image(checker, reviewer, seed=31, claim="网传某地发现巨型海怪，渔民不敢出海")


SENT = encode(picture(31).rotate(2), quality=60)  # 36 bits from the rumor's picture: a suspected match


@pytest.fixture
def post(platform, rumor) -> Post:
    request = MatchRequest("", platform_post_id="p1", image=query_image(SENT), ocr="off", ocr_text="海怪 渔民")
    [answer] = match_many([request], platform=platform)
    assert answer["matches"][0]["decision"] == "suspected", answer
    return Post.objects.get(platform_post_id="p1")


def image_url(post: Post) -> str:
    return reverse("admin:debunk_post_image", args=[post.pk])


def preview_url(post: Post) -> str:
    return reverse("admin:debunk_post_preview", args=[post.pk])


def user_with(*codenames: str):
    user = UserFactory(username="limited")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="debunk", codename__in=codenames))
    return user


# --- the private pictures -------------------------------------------------------------------------------------------


def test_the_picture_is_streamed_as_sent_to_staff_who_may_view_posts(client, post, checker):
    client.force_login(checker)
    response = client.get(image_url(post))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == SENT
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, max-age=86400"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    etag = response["ETag"]
    assert post.image_sha256 in etag
    again = client.get(image_url(post), headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content


def test_previews_are_small_jpegs_decoded_on_the_fly_and_cached_by_the_browser(client, post, reviewer):
    client.force_login(reviewer)
    for size, side in (("s", 128), ("m", 480)):
        response = client.get(preview_url(post), {"size": size})
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        shown = Image.open(io.BytesIO(response.content))
        assert shown.format == "JPEG" and max(shown.size) == side and shown.size[0] > shown.size[1]
        assert response["Cache-Control"].startswith("private")
        cached = client.get(preview_url(post), {"size": size}, headers={"If-None-Match": response["ETag"]})
        assert cached.status_code == 304
    assert client.get(preview_url(post)).status_code == 200  # medium by default


@pytest.mark.parametrize("size", ["xl", "", "480"])
def test_an_unknown_preview_size_is_a_400(client, post, reviewer, size):
    client.force_login(reviewer)
    response = client.get(preview_url(post), {"size": size})
    assert response.status_code == 400 and b"size=s" in response.content


def test_staff_without_permission_to_view_posts_or_matches_are_refused(client, post, outsider):
    client.force_login(outsider)  # staff, no role
    for url in (image_url(post), preview_url(post)):
        assert client.get(url).status_code == 403
    client.force_login(user_with("view_rumor", "view_attachment"))
    for url in (image_url(post), preview_url(post)):
        assert client.get(url).status_code == 403


@pytest.mark.parametrize("codename", ["view_post", "view_match"])
def test_either_view_permission_is_enough(client, post, codename):
    client.force_login(user_with(codename))
    assert client.get(image_url(post)).status_code == 200
    assert client.get(preview_url(post), {"size": "s"}).status_code == 200


def test_anonymous_visitors_are_sent_to_the_login_page(client, post):
    response = client.get(image_url(post))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.get(preview_url(post)).status_code == 302


def test_a_post_without_picture_or_a_missing_one_is_a_404(client, post, platform, reviewer):
    client.force_login(reviewer)
    text_only = Post.objects.create(platform=platform, text="只有文字")
    assert client.get(image_url(text_only)).status_code == 404
    assert client.get(preview_url(text_only)).status_code == 404
    assert client.get(image_url(post).replace(f"/{post.pk}/", "/999999/")).status_code == 404
    assert client.get(image_url(post).replace(f"/{post.pk}/", "/abc/")).status_code == 404
    assert client.post(image_url(post)).status_code == 405


def test_a_damaged_stored_picture_is_a_404_not_an_error(client, post, reviewer):
    with open(post.image.path, "wb") as stored:
        stored.write(SENT[:200])  # truncated
    client.force_login(reviewer)
    assert client.get(preview_url(post), {"size": "s"}).status_code == 404
    post.image.storage.delete(post.image.name)
    assert client.get(image_url(post)).status_code == 404


def test_the_post_page_shows_the_picture_its_hashes_and_the_text_read(client, post, checker):
    client.force_login(checker)
    content = client.get(reverse("admin:debunk_post_change", args=[post.pk])).content.decode()
    assert preview_url(post) + "?size=m" in content and image_url(post) in content
    assert post.image.url not in content  # never under the public media URL
    text = strip_tags(content)
    assert post.image_sha256 in text and bytes(post.image_pdq).hex() in text and "海怪 渔民" in text
    assert str(post.image_quality) in text
    assert "image hash" in text and "distance 36/256" in text  # its match, how it was found


def test_a_text_post_page_has_no_picture_rows(client, platform, checker):
    text_only = Post.objects.create(platform=platform, text="只有文字")
    client.force_login(checker)
    content = client.get(reverse("admin:debunk_post_change", args=[text_only.pk])).content.decode()
    assert "field-image_display" not in content and "field-image_sha256" not in content


# --- the rumor page ---------------------------------------------------------------------------------------------------


def test_the_rumor_page_shows_its_images_hashes_quality_and_text_read(client, rumor, checker, settings):
    fingerprint = ImageFingerprint.objects.get(rumor=rumor)
    ImageFingerprint.objects.filter(pk=fingerprint.pk).update(ocr_text="图中文字：海怪出没")
    client.force_login(checker)
    url = reverse("admin:debunk_rumor_change", args=[rumor.pk])
    content = client.get(url).content.decode()
    attachment = rumor.attachments.get()
    assert fingerprint.pdq_hex in content and attachment.thumbnail.url in content and attachment.file.url in content
    assert "图中文字：海怪出没" in content and str(fingerprint.quality) in strip_tags(content)
    assert "low-quality" not in content
    settings.IMAGE_HASH_MIN_QUALITY = fingerprint.quality + 1
    assert "not matched by hash" in client.get(url).content.decode()


def test_the_rumor_page_lists_the_posts_that_matched_it(client, rumor, post, platform, checker, monkeypatch):
    match = Match.objects.get(post=post)
    for k in range(3):  # three more, by text, matched automatically (as the post archive records them)
        text_post = Post.objects.create(platform=platform, platform_post_id=f"t{k}", text=rumor.claim + "！" * k)
        Match.objects.create(post=text_post, rumor=rumor, similarity=0.97, containment=1.0, status="auto")
    client.force_login(checker)
    url = reverse("admin:debunk_rumor_change", args=[rumor.pk])
    content = client.get(url).content.decode()
    section = content[content.index('id="matched-posts"') :]
    assert "4 posts matched this rumor" in section and "matched automatically 3" in section
    assert "suspected 1" in section
    assert reverse("admin:debunk_match_change", args=[match.pk]) in section
    assert "distance 36/256" in strip_tags(section) and preview_url(post) + "?size=s" in section
    all_link = reverse("admin:debunk_match_changelist") + f"?rumor__id__exact={rumor.pk}&amp;status=all"
    assert all_link in section
    listed = client.get(reverse("admin:debunk_match_changelist"), {"rumor__id__exact": rumor.pk, "status": "all"})
    assert len(listed.context["cl"].result_list) == 4
    monkeypatch.setattr("debunk.stock.admin.MATCHED_POSTS_SHOWN", 2)
    section = client.get(url).content.decode().split('id="matched-posts"')[1]
    assert "The 2 most recent are shown." in section and section.count('class="matched-post ') == 2


def test_the_matched_posts_need_permission_to_view_matches(client, rumor, post):
    client.force_login(user_with("view_rumor", "change_rumor"))
    response = client.get(reverse("admin:debunk_rumor_change", args=[rumor.pk]))
    assert response.status_code == 200 and 'id="matched-posts"' not in response.content.decode()


def test_a_rumor_no_post_matched_says_so(client, rumor, checker):
    client.force_login(checker)
    content = client.get(reverse("admin:debunk_rumor_change", args=[rumor.pk])).content.decode()
    assert "No post has matched this rumor yet." in content
