"""Rendered Chinese screenshots for the image tests and benchmarks (`bench_ocr`, `bench_images`): a Weibo-like post
and a WeChat-like group chat, drawn with a CJK font from Debian's fonts-noto-cjk, with the text each one shows.

Everything is deterministic for given arguments (no clock, no randomness here: callers pass seeded choices), so the
pixels, and so the hashes and OCR texts, do not move between runs.
"""

import glob
import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Colour = tuple[int, int, int]
TOPIC = re.compile(r"#[^#\n]{1,40}#")
TOPIC_COLOUR: Colour = (80, 125, 175)


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    """A Noto Sans CJK font file (fonts-noto-cjk), or None when it is not installed."""
    candidates = sorted(glob.glob("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"))
    if candidates:
        return candidates[0]
    if shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", "Noto Sans CJK SC"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if "CJK" in found:
            return found
    return None


def font_file(*, bold: bool = False, serif: bool = False) -> str:
    """The regular Sans file, or its Bold / Serif sibling of the same package when installed (else the regular)."""
    path = cjk_font_path()
    if path is None:
        raise RuntimeError("no CJK font: install Debian's fonts-noto-cjk")
    name = f"Noto{'Serif' if serif else 'Sans'}CJK-{'Bold' if bold else 'Regular'}.ttc"
    sibling = Path(path).with_name(name)
    return str(sibling) if sibling.is_file() else path


@lru_cache(maxsize=256)
def font(size: int, *, bold: bool = False, serif: bool = False) -> ImageFont.FreeTypeFont:
    path = font_file(bold=bold, serif=serif)
    return ImageFont.truetype(path, size, index=2 if path.endswith(".ttc") else 0)  # index 2: Simplified Chinese


@lru_cache(maxsize=1)
def _notdef() -> bytes:
    return bytes(font(32).getmask("\U0010fffd"))


@lru_cache(maxsize=65536)
def _has_glyph(char: str) -> bool:
    return bytes(font(32).getmask(char)) != _notdef()


def drawable(text: str) -> str:
    """The text as the font can draw it: format and control characters (zero-width spaces…) and characters without
    a glyph in Noto Sans CJK (colour emoji) dropped, runs of spaces and tabs collapsed, line breaks kept."""
    out = []
    for char in text:
        if char == "\n":
            out.append(char)
        elif char in " \t\u3000" or unicodedata.category(char) == "Zs":
            out.append(" ")
        elif unicodedata.category(char)[0] == "C" or not _has_glyph(char):
            continue
        else:
            out.append(char)
    paragraphs = [re.sub(" +", " ", p).strip() for p in "".join(out).split("\n")]
    return "\n".join(p for p in paragraphs if p)


# Punctuation that a Chinese line never starts with: it stays at the end of the line before, a little past the width.
NO_LINE_START = frozenset("，。、；：！？）】」』》〉”’,.;:!?)]…")


def wrap(
    draw: ImageDraw.ImageDraw, text: str, typeface: ImageFont.FreeTypeFont, width: int, *, hang: bool = False
) -> list[str]:
    """Lines of at most `width` px, broken anywhere (as Chinese text is) and at every line break of the text; with
    `hang`, closing punctuation hangs at the end of a line instead of starting the next (as apps lay Chinese out)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for char in paragraph:
            if hang and char in NO_LINE_START:
                current += char
                continue
            if current and draw.textlength(current + char, font=typeface) > width:
                lines.append(current)
                current = ""
            current += char
        if current:
            lines.append(current)
    return lines


def _probe() -> ImageDraw.ImageDraw:
    return ImageDraw.Draw(Image.new("RGB", (1, 1)))


@dataclass(frozen=True)
class Screenshot:
    pixels: np.ndarray  # uint8 RGB, as DecodedImage.array() gives it
    lines: tuple[str, ...]  # the text drawn, top to bottom


def _topic_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in TOPIC.finditer(text)]


def _draw_rich_line(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    line: str,
    start: int,
    spans: list[tuple[int, int]],
    typeface: ImageFont.FreeTypeFont,
    fill: Colour,
) -> None:
    """One wrapped line whose characters [start, start + len) of the paragraph fall in `spans` are in topic blue."""
    x, y = xy
    run, run_topic = "", None
    for i, char in enumerate(line):
        topic = any(a <= start + i < b for a, b in spans)
        if run and topic != run_topic:
            draw.text((x, y), run, font=typeface, fill=TOPIC_COLOUR if run_topic else fill)
            x += round(draw.textlength(run, font=typeface))
            run = ""
        run += char
        run_topic = topic
    if run:
        draw.text((x, y), run, font=typeface, fill=TOPIC_COLOUR if run_topic else fill)


def weibo_card(
    body: str,
    *,
    name: str,
    meta: str,
    counters: str | tuple[str, str, str],
    width: int = 1080,
    scale: float = 1.0,
    avatar: Colour = (230, 150, 90),
    name_colour: Colour = (235, 115, 40),
    serif: bool = False,
    rich: bool = False,
) -> Screenshot:
    """A Weibo-like post: avatar, name, time line, the body (wrapped), counters.

    `scale` multiplies every size and position (1.0: 44-px body text on a 1080-px-wide screen). `rich` adds what a
    Weibo page has around a post: a grey feed gap above and below, a "follow" button, #topics# in blue, a V badge
    on the avatar, and the three counters in columns (`counters` then a (reposts, comments, likes) triple)."""

    def px(value: float) -> int:
        return round(value * scale)

    probe = _probe()
    body_font, name_font, small_font = font(px(44), serif=serif), font(px(38), bold=rich), font(px(30))
    lines = wrap(probe, body, body_font, width - px(96), hang=rich)
    gap = px(24) if rich else 0
    height = gap + px(220) + px(66) * len(lines) + px(130) + gap
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    if rich:
        draw.rectangle((0, 0, width, gap - 1), fill=(242, 242, 242))
        draw.rectangle((0, height - gap, width, height), fill=(242, 242, 242))
    draw.ellipse((px(40), gap + px(40), px(150), gap + px(150)), fill=avatar)
    if rich:
        draw.ellipse((px(116), gap + px(116), px(152), gap + px(152)), fill=(255, 180, 0), outline=(255, 255, 255))
        draw.text((px(124), gap + px(116)), "V", font=font(px(26), bold=True), fill=(255, 255, 255))
        right = width - px(40)
        draw.rounded_rectangle(
            (right - px(150), gap + px(62), right, gap + px(122)), radius=px(30), outline=name_colour, width=px(3)
        )
        draw.text((right - px(128), gap + px(72)), "+ 关注", font=small_font, fill=name_colour)
    draw.text((px(176), gap + px(48)), name, font=name_font, fill=name_colour)
    draw.text((px(176), gap + px(104)), meta, font=small_font, fill=(150, 150, 150))
    y = gap + px(200)
    drawn: list[str] = [name, meta]
    paragraphs = body.split("\n")
    offsets = {}
    for paragraph in paragraphs:  # where each wrapped line starts in its paragraph (for the topic colours)
        start = 0
        for line in wrap(probe, paragraph, body_font, width - px(96), hang=rich):
            offsets.setdefault(len(offsets), (paragraph, start))
            start += len(line)
    for k, line in enumerate(lines):
        if rich:
            paragraph, start = offsets[k]
            _draw_rich_line(draw, (px(48), y), line, start, _topic_spans(paragraph), body_font, (30, 30, 30))
        else:
            draw.text((px(48), y), line, font=body_font, fill=(30, 30, 30))
        drawn.append(line)
        y += px(66)
    draw.line((0, y + px(30), width, y + px(30)), fill=(235, 235, 235), width=px(2))
    if isinstance(counters, str):
        draw.text((px(48), y + px(60)), counters, font=small_font, fill=(120, 120, 120))
        drawn.append(counters)
    else:
        column = width / 3
        for i, label in enumerate(counters):
            x = round(column * i + column / 2 - draw.textlength(label, font=small_font) / 2)
            draw.text((x, y + px(60)), label, font=small_font, fill=(120, 120, 120))
            if i:
                draw.line((round(column * i), y + px(62), round(column * i), y + px(92)), fill=(225, 225, 225))
        drawn.append(" ".join(counters))
    return Screenshot(np.asarray(image, dtype=np.uint8), tuple(drawn))


@dataclass(frozen=True)
class ChatMessage:
    sender: str  # shown above a received message in a group; "" for one's own (right, green)
    text: str
    avatar: Colour = (120, 160, 200)


def wechat_chat(
    messages: list[ChatMessage],
    *,
    title: str,
    stamp: str,
    width: int = 1080,
    scale: float = 1.0,
    status_time: str | None = None,
) -> Screenshot:
    """A WeChat-like group chat: title bar, a time stamp, message bubbles (received on the left with avatar and
    sender's name, one's own on the right in green), the input bar. With `status_time`, the phone's status bar on
    top (time, signal, battery), as a phone screenshot has it."""

    def px(value: float) -> int:
        return round(value * scale)

    probe = _probe()
    text_font, name_font, title_font, small_font = font(px(46)), font(px(30)), font(px(44), bold=True), font(px(30))
    bubble_max = round(width * 0.64)
    line_h = px(66)
    layout = []
    for message in messages:
        lines = wrap(probe, message.text, text_font, bubble_max - px(60), hang=True)
        text_w = max(round(probe.textlength(line, font=text_font)) for line in lines) if lines else 0
        layout.append((message, lines, text_w))
    status_h = px(70) if status_time else 0
    top_h = status_h + px(150)
    height = top_h + px(130)
    for message, lines, _ in layout:
        height += (px(44) if message.sender else 0) + line_h * len(lines) + px(50) + px(40)
    height += px(40) + px(170)
    image = Image.new("RGB", (width, height), (237, 237, 237))
    draw = ImageDraw.Draw(image)
    drawn: list[str] = []
    if status_time:
        draw.text((px(60), px(14)), status_time, font=font(px(34), bold=True), fill=(20, 20, 20))
        for i in range(4):  # signal bars, battery
            bar_x = width - px(250) + i * px(16)
            draw.rectangle((bar_x, px(46) - i * px(8), bar_x + px(10), px(50)), fill=(20, 20, 20))
        draw.rounded_rectangle(
            (width - px(150), px(24), width - px(80), px(52)), radius=px(6), outline=(20, 20, 20), width=px(3)
        )
        draw.rectangle((width - px(146), px(28), width - px(100), px(48)), fill=(20, 20, 20))
        drawn.append(status_time)
    draw.line((px(40), status_h + px(75), px(62), status_h + px(52)), fill=(20, 20, 20), width=px(5))  # back arrow
    draw.line((px(40), status_h + px(75), px(62), status_h + px(98)), fill=(20, 20, 20), width=px(5))
    title_w = draw.textlength(title, font=title_font)
    draw.text((round((width - title_w) / 2), status_h + px(45)), title, font=title_font, fill=(20, 20, 20))
    drawn.append(title)
    for i in range(3):  # the "more" dots
        cx = width - px(90) + i * px(22)
        draw.ellipse((cx - px(5), status_h + px(70), cx + px(5), status_h + px(80)), fill=(20, 20, 20))
    draw.line((0, top_h - 1, width, top_h - 1), fill=(215, 215, 215), width=max(1, px(2)))
    stamp_w = draw.textlength(stamp, font=small_font)
    draw.text((round((width - stamp_w) / 2), top_h + px(40)), stamp, font=small_font, fill=(160, 160, 160))
    drawn.append(stamp)
    y = top_h + px(130)
    avatar = px(110)
    for message, lines, text_w in layout:
        received = bool(message.sender)
        bubble_w = text_w + px(60)
        bubble_h = line_h * len(lines) + px(50)
        if received:
            draw.rounded_rectangle((px(30), y, px(30) + avatar, y + avatar), radius=px(12), fill=message.avatar)
            draw.text((px(170), y - px(4)), message.sender, font=name_font, fill=(140, 140, 140))
            drawn.append(message.sender)
            top = y + px(44)
            left = px(170)
            fill: Colour = (255, 255, 255)
        else:
            draw.rounded_rectangle(
                (width - px(30) - avatar, y, width - px(30), y + avatar), radius=px(12), fill=message.avatar
            )
            top = y
            left = width - px(170) - bubble_w
            fill = (149, 236, 105)
        draw.rounded_rectangle((left, top, left + bubble_w, top + bubble_h), radius=px(14), fill=fill)
        tip = left if received else left + bubble_w  # the bubble's little arrow towards the avatar
        side = -1 if received else 1
        draw.polygon([(tip, top + px(34)), (tip + side * px(16), top + px(46)), (tip, top + px(58))], fill=fill)
        for k, line in enumerate(lines):
            draw.text((left + px(30), top + px(20) + k * line_h), line, font=text_font, fill=(25, 25, 25))
            drawn.append(line)
        y = top + bubble_h + px(40)
    bar_top = height - px(170)
    draw.rectangle((0, bar_top, width, height), fill=(246, 246, 246))
    draw.line((0, bar_top, width, bar_top), fill=(220, 220, 220), width=max(1, px(2)))
    for cx in (px(70), width - px(170), width - px(70)):  # voice, emoji, plus
        draw.ellipse((cx - px(34), bar_top + px(46), cx + px(34), bar_top + px(114)), outline=(40, 40, 40), width=px(4))
    draw.rounded_rectangle(
        (px(130), bar_top + px(38), width - px(230), bar_top + px(122)), radius=px(12), fill=(255, 255, 255)
    )
    return Screenshot(np.asarray(image, dtype=np.uint8), tuple(drawn))


__all__ = [
    "ChatMessage",
    "Screenshot",
    "cjk_font_path",
    "drawable",
    "font",
    "font_file",
    "wechat_chat",
    "weibo_card",
    "wrap",
]
