"""The public pages: home, columns, rumor page (ClaimReview, Open Graph), search, feeds and sitemap."""

import json
import re
import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from django.utils import timezone

from debunk.api.models import Platform
from debunk.stock import rumors as rumor_services
from debunk.warning.models import InterceptionCount
from tests.factories import make_rumor, publish_rumor

WATER = "网传某市自来水厂被污染，全市停水三天，请大家赶紧囤水"
VACCINE = "网传接种新冠疫苗后会改变人体基因，专家呼吁立即停止接种"


@pytest.fixture
def client() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="zh-hans")


@pytest.fixture
def water(checker, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # search indexes after commit
        return publish_rumor(checker, reviewer, claim=WATER, category="livelihood")


@pytest.fixture
def vaccine(checker, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return publish_rumor(
            checker,
            reviewer,
            claim=VACCINE,
            category="epidemics",
            title="接种疫苗会改变基因？假的",
            summary="mRNA 疫苗不会进入细胞核，不会改变人体基因。",
            verified_by="国家卫生健康委员会",
        )


def test_home_lists_latest_debunks_and_spreading_rumors(client, water, vaccine):
    platform = Platform.objects.create(code="weibo", name="Weibo")
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    InterceptionCount.objects.create(rumor=vaccine, platform=platform, action="block", start=hour, count=3)
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    spreading = html.split("spreading-h", 1)[1].split("latest-h", 1)[0]
    assert "接种疫苗会改变基因？假的" in spreading and "停水" not in spreading
    latest = html.split("latest-h", 1)[1]
    assert latest.index("接种疫苗会改变基因") < latest.index("网传停水三天系谣言")  # newest first


def test_home_without_anything_spreading_has_no_such_section(client, water):
    html = client.get("/").content.decode()
    assert "spreading-h" not in html and "网传停水三天系谣言" in html


def test_column_includes_sub_categories_and_paginates(client, checker, reviewer, settings):
    settings.PUBLIC_PAGE_SIZE = 2
    for i in range(3):
        publish_rumor(checker, reviewer, claim=f"{WATER}，第{i}次", category="livelihood")
    publish_rumor(checker, reviewer, claim=VACCINE, category="epidemics")
    first = client.get("/columns/society_economy/")  # livelihood's parent
    assert first.status_code == 200
    assert first.content.decode().count('class="debunk-card"') == 2 and "page=2" in first.content.decode()
    second = client.get("/columns/society_economy/?page=2").content.decode()
    assert second.count('class="debunk-card"') == 1 and VACCINE[:10] not in second
    assert client.get("/columns/society_economy/?page=99").status_code == 200  # last page, not an error
    assert client.get("/columns/no_such_column/").status_code == 404


def test_column_list_counts_live_rumors(client, water, checker):
    make_rumor(checker, claim="草稿不应被计数的一条谣言文本", category="livelihood")  # a draft
    html = client.get("/columns/").content.decode()
    society = re.search(r'href="/columns/society_economy/">[^<]+</a> <span class="count">(\d+)', html)
    assert society and society.group(1) == "1"


def test_rumor_page_has_claimreview_open_graph_and_related(client, vaccine, checker, reviewer, settings):
    settings.PUBLIC_BASE_URL = "https://debunk.example.org"
    other = publish_rumor(checker, reviewer, claim="网传喝板蓝根可以预防新冠病毒感染", category="epidemics")
    response = client.get(f"/rumors/{vaccine.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    blob = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    review = json.loads(blob)
    url = f"https://debunk.example.org/rumors/{vaccine.pk}/"
    assert review["@type"] == "ClaimReview" and review["url"] == url
    assert review["claimReviewed"] == VACCINE
    assert review["reviewRating"]["alternateName"] == vaccine.verdict.claimreview_rating
    assert review["reviewRating"]["ratingValue"] == vaccine.verdict.claimreview_value
    assert review["itemReviewed"]["@type"] == "Claim"
    assert review["author"]["@type"] == "Organization" and review["author"]["name"]
    assert review["datePublished"] == vaccine.published_at.date().isoformat()
    assert f'<meta property="og:url" content="{url}">' in html
    assert 'property="og:title" content="' in html and "接种疫苗会改变基因？假的" in html
    assert "国家卫生健康委员会" in html and 'value="' + url + '"' in html  # authority and share link
    related = html.split("related-h", 1)[1]
    assert f"/rumors/{other.pk}/" in related


def test_json_ld_cannot_close_its_script(client, checker, reviewer):
    rumor = publish_rumor(checker, reviewer, claim="谣言里有</script><script>alert(1)</script>这样的文字")
    html = client.get(f"/rumors/{rumor.pk}/").content.decode()
    blob = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    assert json.loads(blob)["claimReviewed"].startswith("谣言里有</script>")
    assert "<script>alert(1)" not in html


def test_unpublished_and_retracted_rumors_are_not_public(client, checker, reviewer, water):
    draft = make_rumor(checker, claim="这是一条草稿谣言，不应公开显示")
    assert client.get(f"/rumors/{draft.pk}/").status_code == 404
    rumor_services.rumor_retract(rumor=water, by=reviewer, reason="核实有误")
    assert client.get(f"/rumors/{water.pk}/").status_code == 404


def test_pages_in_english(client, vaccine):
    client.cookies["django_language"] = "en"
    html = client.get("/").content.decode()
    assert "Latest debunks" in html and 'lang="en"' in html
    assert "Debunk columns" in client.get("/columns/").content.decode()


def test_search_page_bad_dates_give_a_message(client, water):
    response = client.get("/search/", {"q": "停水", "date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    response = client.get("/search/", {"q": "停水", "date_from": "not-a-date", "category": "nope"})
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()


def test_search_page_finds_the_debunk_first(client, water, vaccine):
    response = client.get("/search/", {"q": "疫苗"})
    assert response.status_code == 200
    html = response.content.decode()
    first = html.split('class="debunk-card"')[1]
    assert f"/rumors/{vaccine.pk}/" in first and "<mark>" in first
    assert f"/rumors/{water.pk}/" not in html


def test_search_page_filters(client, water, vaccine):
    html = client.get("/search/", {"q": "网传", "category": "epidemics"}).content.decode()
    assert f"/rumors/{vaccine.pk}/" in html and f"/rumors/{water.pk}/" not in html
    html = client.get("/search/", {"q": "网传", "verdict": "true"}).content.decode()
    assert "debunk-card" not in html


def _xml(response) -> ET.Element:
    assert response.status_code == 200
    return ET.fromstring(response.content)


def test_rss_and_atom_feeds_per_column(client, water, vaccine):
    rss = _xml(client.get("/feeds/rss/epidemics/"))
    titles = [t.text for t in rss.iter("title")]
    assert any("接种疫苗会改变基因" in (t or "") for t in titles) and not any("停水" in (t or "") for t in titles)
    atom = _xml(client.get("/feeds/atom/public_emergencies/"))
    ns = "{http://www.w3.org/2005/Atom}"
    assert len(atom.findall(f"{ns}entry")) == 1
    everything = _xml(client.get("/feeds/rss/"))
    assert len(everything.findall("./channel/item")) == 2
    assert client.get("/feeds/rss/no_such_column/").status_code == 404


def test_sitemap_lists_published_rumors_and_columns(client, water, checker):
    draft = make_rumor(checker, claim="这是一条草稿谣言，不应出现在站点地图")
    root = _xml(client.get("/sitemap.xml"))
    locs = [el.text for el in root.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert any(loc.endswith(f"/rumors/{water.pk}/") for loc in locs)
    assert not any(loc.endswith(f"/rumors/{draft.pk}/") for loc in locs)
    assert any(loc.endswith("/columns/livelihood/") for loc in locs)
