"""Image matches in the reviewers' admin, in a real browser: the suspected queue with the post's picture beside the
rumor's, a match's page (by hash and by the text read in a screenshot), the rumor's page with its images and the
posts that matched it, a post's page. Every picture must load (through the post admin's private views for posts')."""

import io

import pytest
from PIL import Image

from debunk.api.models import Platform
from debunk.bench.ocr import CLAIMS, cjk_font_path, weibo_post
from debunk.core.roles import FACT_CHECKER, REVIEWER
from debunk.images.services import query_image
from debunk.matching.models import Match
from debunk.matching.services import MatchRequest, match_many
from labels.models import VerdictLabel
from tests.browser.test_admin_pages import login
from tests.factories import UserFactory, publish_rumor
from tests.images.test_match_api import encode, picture, rumor_with_image

pytestmark = pytest.mark.browser

PICTURES = "img.post-image, img.rumor-image"


@pytest.fixture
def queue(seeded_transactional_db, settings, tmp_path):
    if cjk_font_path() is None:
        pytest.skip("no CJK font (Debian fonts-noto-cjk) to render the screenshot a post sends")
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ROOT_URLCONF = "tests.browser.media_urls"
    settings.IMAGE_OCR = True
    checker = UserFactory(username="checker", roles=[FACT_CHECKER])
    reviewer = UserFactory(username="reviewer", roles=[REVIEWER])
    verdict = VerdictLabel.objects.get(code="false")
    verdict.match_auto_threshold, verdict.match_review_threshold = 0.99, 0.3
    verdict.ocr_auto_containment, verdict.ocr_review_containment = 0.99, 0.3
    verdict.save()
    monster = rumor_with_image(checker, reviewer, seed=31, claim="网传某地海边出现巨型海怪，渔民不敢出海，视频传遍全网")
    water = publish_rumor(checker, reviewer, claim=CLAIMS[0] + "据说是因为水源被污染，自来水厂正在连夜抢修。")
    platform = Platform.objects.create(code="weibo", name="微博")
    shot = weibo_post(0)
    png = encode(Image.fromarray(shot.pixels), "PNG")
    match_many(
        [
            # the rumor's picture turned by 2°: 36 bits of 256 away, queued for review
            MatchRequest("转发：海边惊现怪物！", platform_post_id="wb-1001", image=query_image(turned()), ocr="off"),
            # a screenshot whose text (read before: what a perfect reading gives) holds most of the claim
            MatchRequest("", platform_post_id="wb-1002", image=query_image(png), ocr_text="\n".join(shot.lines)),
            # text only, between the thresholds
            MatchRequest(CLAIMS[0][:24] + "是真的吗？", platform_post_id="wb-1003"),
        ],
        platform=platform,
    )
    matches = {m.post.platform_post_id: m for m in Match.objects.select_related("post")}
    assert {k: (m.via, m.status) for k, m in matches.items()} == {
        "wb-1001": ("image_hash", "suspected"),
        "wb-1002": ("ocr", "suspected"),
        "wb-1003": ("text", "suspected"),
    }
    return {"monster": monster, "water": water, **matches}


def turned() -> bytes:
    out = io.BytesIO()
    picture(31).rotate(2).save(out, format="JPEG", quality=60)
    return out.getvalue()


LOAD_ALL = """() => Promise.race([
    Promise.all([...document.images].map(i => { i.loading = "eager"; return i.decode().catch(() => null); })),
    new Promise(done => setTimeout(done, 10000)),
])"""


def pictures_loaded(page) -> list[tuple[str, int]]:
    """(src, natural width) of every picture on the page, once all have finished loading (lazy ones too: a full-page
    screenshot does not scroll)."""
    page.evaluate(LOAD_ALL)
    return page.eval_on_selector_all(PICTURES, "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")


def test_image_matches_in_the_queue_the_match_page_and_the_rumor_page(page, live_server, queue, screenshot):
    login(page, live_server, "reviewer")
    admin = f"{live_server.url}/admin/debunk"

    page.goto(f"{admin}/match/")
    assert page.locator("#result_list tbody tr").count() == 3
    shown = pictures_loaded(page)
    assert len(shown) == 3 and all(width > 0 for _, width in shown), shown  # two posts' pictures, one rumor's
    assert "/media/posts/" not in page.content()
    assert "(36/256)" in page.locator("#result_list").inner_text()
    screenshot("admin-match-queue-images-zh-hans")

    page.goto(f"{admin}/match/?via=image_hash")
    assert page.locator("#result_list tbody tr").count() == 1

    page.goto(f"{admin}/match/{queue['wb-1001'].pk}/change/")
    shown = pictures_loaded(page)
    assert len(shown) == 2 and all(width > 0 for _, width in shown), shown
    assert page.locator("input.decide-confirm").is_visible()
    screenshot("admin-match-image-hash-zh-hans")

    page.goto(f"{admin}/match/{queue['wb-1002'].pk}/change/")
    assert page.locator(".match-images mark").count() >= 1  # the claim, found in the text read
    shown = pictures_loaded(page)
    assert len(shown) == 1 and shown[0][1] > 0  # the screenshot; the rumor has no picture
    screenshot("admin-match-ocr-zh-hans")

    page.goto(f"{admin}/rumor/{queue['monster'].pk}/change/")
    assert page.locator("#matched-posts .matched-post").count() == 1
    shown = pictures_loaded(page)
    assert len(shown) == 2 and all(width > 0 for _, width in shown), shown  # its image, the matched post's
    screenshot("admin-rumor-images-zh-hans")

    page.goto(f"{admin}/post/{queue['wb-1001'].post_id}/change/")
    shown = pictures_loaded(page)
    assert len(shown) == 1 and shown[0][1] > 0
    screenshot("admin-post-image-zh-hans")

    # deciding from the match's page: confirm adds the picture to the rumor's images
    page.goto(f"{admin}/match/{queue['wb-1001'].pk}/change/")
    page.click("input.decide-confirm")
    page.wait_for_selector(".messagelist .success")
    assert queue["monster"].attachments.filter(role="rumor_image").count() == 2
    assert page.console_errors == []
