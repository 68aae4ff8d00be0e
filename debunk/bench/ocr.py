"""Rendered Chinese screenshots for the OCR tests and `bench_ocr`: Weibo-like posts and long WeChat-like articles
drawn with a CJK font from Debian's fonts-noto-cjk (`render.py`), with the text each one shows (to compute a
character error).
"""

import resource
import statistics
import sys
import time
import unicodedata
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from debunk.bench.render import Screenshot, cjk_font_path, font, weibo_card, wrap

# Short rumor claims (written for these tests, in the style of the ones fact-checkers see).
CLAIMS = (
    "紧急通知：明天起全市自来水停水三天，请大家提前储水，转发给家人朋友！",
    "吃香蕉和酸奶一起会中毒，已经有小孩因此住院抢救，千万不要同时吃。",
    "微信将从下个月开始对所有聊天记录收费，每条消息收取一毛钱服务费。",
    "喝淡盐水可以预防新型流感病毒感染，医院专家已经证实效果非常明显。",
    "某地高铁站发现一名拐卖儿童的人贩子，已被警方当场抓获，大家注意安全。",
    "手机充电时接打电话会爆炸，上周有人因此被炸伤，请立刻告诉身边的人。",
    "隔夜的开水含有亚硝酸盐会致癌，长期饮用对肝脏和肾脏损害极大。",
    "五元硬币即将停止流通，银行只收到本月底，家里有的赶快去兑换。",
)
NAMES = ("热心市民小王", "健康生活每一天", "本地资讯速递", "老张说新闻")

__all__ = ["CLAIMS", "NAMES", "Screenshot", "cer", "cjk_font_path", "long_article", "ocr_figures", "weibo_post"]


def weibo_post(seed: int = 0, width: int = 1080) -> Screenshot:
    """A Weibo-like post: avatar, name, time line, the claim (wrapped), counters."""
    return weibo_card(
        CLAIMS[seed % len(CLAIMS)],
        name=NAMES[seed % len(NAMES)],
        meta=f"{seed % 12 + 1}小时前 来自 iPhone客户端",
        counters=f"转发 {120 + seed * 37}   评论 {45 + seed * 11}   赞 {980 + seed * 53}",
        width=width,
        avatar=(230 - seed * 7 % 60, 150, 90),
    )


def long_article(seed: int = 0, width: int = 1080, height: int = 8000) -> Screenshot:
    """A long WeChat-article-like screenshot: numbered paragraphs of claims down to `height` px."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    typeface = font(42)
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    drawn: list[str] = []
    y, n = 60, 0
    while True:
        paragraph = f"{n + 1}. " + CLAIMS[(seed + n) % len(CLAIMS)]
        lines = wrap(probe, paragraph, typeface, width - 120)
        if y + 64 * len(lines) > height - 60:
            break
        for line in lines:
            draw.text((60, y), line, font=typeface, fill=(40, 40, 40))
            drawn.append(line)
            y += 64
        y += 50
        n += 1
    return Screenshot(np.asarray(image, dtype=np.uint8), tuple(drawn))


def _plain(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(expected: str, recognised: str) -> float:
    """Character error rate: edit distance over the expected length, ignoring spaces and full/half width."""
    reference = _plain(expected)
    return edit_distance(reference, _plain(recognised)) / max(1, len(reference))


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def ocr_figures(images: int = 20, threads: int = 1, long_height: int = 8000) -> dict[str, Any]:
    """OCR of `images` rendered posts (p50/p95 ms, CER) and one long screenshot, whole and tiled."""
    from debunk.images import ocr as ocr_mod

    figures: dict[str, Any] = {"ocr_images": images, "ocr_threads": threads}
    started = time.perf_counter()
    ocr_mod.get_engine(threads)
    figures["ocr_engine_load_s"] = round(time.perf_counter() - started, 2)
    config = ocr_mod.OcrConfig(threads=threads)
    shots = [weibo_post(seed) for seed in range(images)]
    ms, errors = [], []
    for shot in shots:
        result = ocr_mod.ocr(shot.pixels, config=config)
        ms.append(result.seconds * 1000)
        errors.append(cer("\n".join(shot.lines), result.text))
    figures["ocr_ms_p50"] = round(statistics.median(ms), 1)
    figures["ocr_ms_p95"] = round(float(np.percentile(ms, 95)), 1)
    figures["ocr_cer_mean"] = round(statistics.fmean(errors), 4)
    if long_height:
        shot = long_article(0, height=long_height)
        reference = "\n".join(shot.lines)
        tiled = ocr_mod.ocr(shot.pixels, config=config)
        whole = ocr_mod.ocr(shot.pixels, config=ocr_mod.OcrConfig(threads=threads, long_height=10**9, long_ratio=1e9))
        figures["long_px"] = f"1080x{long_height}"
        figures["long_tiles"] = tiled.tiles
        figures["long_tiled_cer"] = round(cer(reference, tiled.text), 4)
        figures["long_tiled_ms"] = round(tiled.seconds * 1000, 1)
        figures["long_whole_cer_baseline"] = round(cer(reference, whole.text), 4)
        figures["long_whole_ms_baseline"] = round(whole.seconds * 1000, 1)
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures
