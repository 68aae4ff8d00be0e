"""How rumor pictures change as they travel, for `bench_images`: each transformation is a function (PIL RGB image,
seeded `random.Random`) -> PIL RGB image, deterministic for a given seed.

They are made to look like what reaches a platform, not to be easy: a re-saved JPEG at quality 30-70, a picture
shrunk to a half or a third, cropped 10-25% of its area off its edges (text lines cut included), a coloured caption
bar with text added by a reposter, a watermark (a tiled diagonal text, a corner signature, a stamp), a screenshot of
the picture shown in a phone (status bar, navigation, an image viewer or a post around it), a slight rotation with
the corners filled, and a phone photo of a screen (perspective, moiré from the screen's pixel grid, lighting,
noise, blur, JPEG).
"""

import io
import math
import random
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from debunk.bench.image_index import scene
from debunk.bench.render import font

Transform = Callable[[Image.Image, random.Random], Image.Image]

CAPTIONS = (
    "【扩散】紧急提醒！",
    "家人们一定要看！！",
    "转给身边的人，越多越好",
    "重要通知 速看",
    "刚刚官方发布",
    "看完赶紧转发",
    "真的吓人，大家小心",
    "朋友圈都在传",
    "内部消息，别外传",
    "赶快告诉家里老人",
)
HANDLES = ("微博@每日热点速递", "@生活小妙招", "抖音号 8823105", "今日头条@健康快报", "@本地新鲜事", "微信号 jk2020")
BAR_COLOURS = ((210, 30, 30), (20, 20, 20), (30, 90, 200), (250, 200, 0), (240, 110, 20))
PHONE_WIDTHS = (828, 1080, 1170, 1242)
NAV_TITLES = ("微博正文", "详情", "朋友圈", "图片", "全文")


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    out.seek(0)
    with Image.open(out) as decoded:
        return decoded.convert("RGB")


def jpeg(image: Image.Image, rng: random.Random) -> Image.Image:
    """Saved again as JPEG at quality 30-70."""
    return _jpeg(image, rng.randint(30, 70))


def resize(image: Image.Image, rng: random.Random) -> Image.Image:
    """Shrunk to 0.5x or 0.33x, with one of the usual resampling filters."""
    factor = rng.choice((0.5, 0.33))
    method = rng.choice((Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS))
    width, height = image.size
    return image.resize((max(1, round(width * factor)), max(1, round(height * factor))), method)


def crop(image: Image.Image, rng: random.Random) -> Image.Image:
    """10-25% of the area cut off the edges, shared at random between the height and the width (from all height, as
    when a reposter cuts an app's bars, to all width, which cuts the ends of text lines), each cut split at random
    between the two opposite edges."""
    width, height = image.size
    keep = 1 - rng.uniform(0.10, 0.25)
    share = rng.random()  # of the cut taken from the width
    keep_w, keep_h = keep**share, keep ** (1 - share)
    new_w, new_h = round(width * keep_w), round(height * keep_h)
    left = round((width - new_w) * rng.random())
    top = round((height - new_h) * rng.random())
    return image.crop((left, top, left + new_w, top + new_h))


def caption_bar(image: Image.Image, rng: random.Random) -> Image.Image:
    """A coloured bar with a reposter's text above or below the picture (8-16% of its height, at least 90 px for a
    picture 1,080 px wide)."""
    width, height = image.size
    bar_h = max(round(width * 0.083), round(height * rng.uniform(0.08, 0.16)))
    colour = rng.choice(BAR_COLOURS)
    ink = (20, 20, 20) if sum(colour) > 450 else (255, 255, 255)
    text = rng.choice(CAPTIONS)
    size = max(12, min(round(bar_h * 0.5), round(width * 0.9 / max(1, len(text)))))
    bar = Image.new("RGB", (width, bar_h), colour)
    draw = ImageDraw.Draw(bar)
    typeface = font(size, bold=True)
    text_w = draw.textlength(text, font=typeface)
    draw.text((round((width - text_w) / 2), round((bar_h - size * 1.2) / 2)), text, font=typeface, fill=ink)
    out = Image.new("RGB", (width, height + bar_h))
    top = rng.random() < 0.5
    out.paste(bar, (0, 0 if top else height))
    out.paste(image, (0, bar_h if top else 0))
    return out


def watermark(image: Image.Image, rng: random.Random) -> Image.Image:
    """A semi-transparent mark: a diagonal text tiled over the picture (opacity 12-25%), a corner signature with a
    shadow (opacity 60-90%), or a round stamp (opacity 25-45%); sometimes two of them."""
    width, height = image.size
    base = image.convert("RGBA")
    kinds = rng.sample(("tiled", "corner", "stamp"), k=rng.choice((1, 1, 2)))
    handle = rng.choice(HANDLES)
    for kind in kinds:
        layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        if kind == "tiled":
            size = max(12, round(width * rng.uniform(0.035, 0.05)))
            alpha = round(255 * rng.uniform(0.12, 0.25))
            ink = (120, 120, 120, alpha) if rng.random() < 0.5 else (255, 255, 255, alpha)
            tile = Image.new("RGBA", (round(size * len(handle) * 1.3), size * 3), (0, 0, 0, 0))
            ImageDraw.Draw(tile).text((0, size), handle, font=font(size), fill=ink)
            tile = tile.rotate(rng.uniform(20, 40), expand=True, resample=Image.Resampling.BICUBIC)
            step_x, step_y = tile.size[0], max(1, round(tile.size[1] * 0.8))
            for y in range(-step_y, height, step_y):
                for x in range(-step_x // 2 if (y // step_y) % 2 else 0, width, step_x):
                    layer.alpha_composite(tile, (max(0, x), max(0, y)))
        elif kind == "corner":
            size = max(12, round(width * rng.uniform(0.03, 0.045)))
            alpha = round(255 * rng.uniform(0.6, 0.9))
            typeface = font(size, bold=True)
            text_w = draw.textlength(handle, font=typeface)
            x, y = width - text_w - size, height - size * 2
            draw.text((x + 2, y + 2), handle, font=typeface, fill=(0, 0, 0, alpha // 2))
            draw.text((x, y), handle, font=typeface, fill=(255, 255, 255, alpha))
        else:
            radius = round(min(width, height) * rng.uniform(0.08, 0.14))
            cx = rng.randint(radius, max(radius, width - radius))
            cy = rng.randint(radius, max(radius, height - radius))
            alpha = round(255 * rng.uniform(0.25, 0.45))
            ink = (220, 30, 30, alpha)
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=ink, width=max(2, radius // 10))
            typeface = font(max(10, radius // 2), bold=True)
            label = rng.choice(("原创", "转载", "辟谣", "热点"))
            text_w = draw.textlength(label, font=typeface)
            draw.text((cx - text_w / 2, cy - radius // 3), label, font=typeface, fill=ink)
        base.alpha_composite(layer)
    return base.convert("RGB")


def _status_bar(draw: ImageDraw.ImageDraw, width: int, height: int, dark: bool, rng: random.Random) -> None:
    ink = (235, 235, 235) if dark else (20, 20, 20)
    clock = f"{rng.randint(6, 23)}:{rng.randint(0, 59):02d}"
    draw.text((round(width * 0.06), round(height * 0.18)), clock, font=font(round(height * 0.5), bold=True), fill=ink)
    right = width - round(width * 0.06)
    draw.rounded_rectangle(
        (right - round(height * 0.9), round(height * 0.3), right, round(height * 0.7)),
        radius=3,
        outline=ink,
        width=2,
    )
    draw.rectangle(
        (right - round(height * 0.85), round(height * 0.35), right - round(height * 0.3), round(height * 0.65)),
        fill=ink,
    )
    for i in range(4):
        x = right - round(height * 2.2) + i * round(height * 0.22)
        draw.rectangle((x, round(height * (0.6 - 0.1 * i)), x + round(height * 0.13), round(height * 0.7)), fill=ink)


def screenshot_of_screenshot(image: Image.Image, rng: random.Random) -> Image.Image:
    """The picture as a phone shows it, screenshotted again: a phone-sized screen (19.5:9) with its status bar, and
    either an image viewer (black, the picture fitted, a page counter and buttons) or a post (navigation bar, an
    author line, a comment, the picture at 70-92% of the width, action buttons)."""
    phone_w = rng.choice(PHONE_WIDTHS)
    phone_h = round(phone_w * rng.uniform(2.0, 2.17))
    viewer = rng.random() < 0.5
    screen = Image.new("RGB", (phone_w, phone_h), (0, 0, 0) if viewer else (255, 255, 255))
    draw = ImageDraw.Draw(screen)
    status_h = round(phone_w * 0.09)
    _status_bar(draw, phone_w, status_h, viewer, rng)
    small = font(round(phone_w * 0.036))
    if viewer:
        top, bottom = status_h + round(phone_w * 0.08), phone_h - round(phone_w * 0.2)
        scale = min(phone_w / image.width, (bottom - top) / image.height)
        shown = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        screen.paste(shown, ((phone_w - shown.width) // 2, top + (bottom - top - shown.height) // 2))
        count = rng.randint(2, 9)
        draw.text((phone_w // 2 - round(phone_w * 0.03), status_h + 10), f"1/{count}", font=small, fill=(230,) * 3)
        y = phone_h - round(phone_w * 0.13)
        for k, label in enumerate(("保存图片", "分享", "原图")):
            draw.text((round(phone_w * (0.08 + 0.32 * k)), y), label, font=small, fill=(230, 230, 230))
        return screen
    nav_h = round(phone_w * 0.12)
    title = rng.choice(NAV_TITLES)
    title_font = font(round(phone_w * 0.042), bold=True)
    title_w = draw.textlength(title, font=title_font)
    draw.text(((phone_w - title_w) / 2, status_h + nav_h * 0.25), title, font=title_font, fill=(20, 20, 20))
    draw.text((round(phone_w * 0.04), status_h + nav_h * 0.2), "<", font=title_font, fill=(20, 20, 20))
    draw.line((0, status_h + nav_h, phone_w, status_h + nav_h), fill=(225, 225, 225), width=2)
    y = status_h + nav_h + round(phone_w * 0.04)
    avatar = round(phone_w * 0.1)
    margin = round(phone_w * 0.04)
    draw.ellipse((margin, y, margin + avatar, y + avatar), fill=tuple(rng.randint(60, 220) for _ in range(3)))
    name = rng.choice(("爱生活的小美", "老刘看世界", "阳光明媚2020", "平安是福", "一只小海豚"))
    draw.text((margin * 2 + avatar, y), name, font=font(round(phone_w * 0.038), bold=True), fill=(40, 40, 40))
    draw.text((margin * 2 + avatar, y + avatar * 0.55), f"{rng.randint(2, 59)}分钟前", font=small, fill=(150, 150, 150))
    y += avatar + margin
    draw.text((margin, y), rng.choice(CAPTIONS), font=font(round(phone_w * 0.042)), fill=(25, 25, 25))
    y += round(phone_w * 0.08)
    bottom = phone_h - round(phone_w * 0.16)
    scale = min(rng.uniform(0.70, 0.92) * phone_w / image.width, (bottom - y) / image.height)
    shown = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    screen.paste(shown, (margin, y))
    draw.rectangle((0, bottom, phone_w, phone_h), fill=(250, 250, 250))
    for k, label in enumerate(("转发", "评论", "赞")):
        draw.text(
            (round(phone_w * (0.12 + 0.33 * k)), bottom + round(phone_w * 0.05)), label, font=small, fill=(90,) * 3
        )
    return screen


def rotate(image: Image.Image, rng: random.Random) -> Image.Image:
    """Turned 1-3 degrees either way, the canvas grown to hold it and its corners filled (white, black or grey)."""
    angle = rng.uniform(1.0, 3.0) * rng.choice((-1, 1))
    fill = rng.choice(((255, 255, 255), (0, 0, 0), (238, 238, 238), (60, 60, 60)))
    return image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=fill)


def perspective_coefficients(source: list[tuple[float, float]], target: list[tuple[float, float]]) -> list[float]:
    """PIL's 8 PERSPECTIVE coefficients mapping each target (output) corner to its source (input) corner."""
    rows, rhs = [], []
    for (u, v), (x, y) in zip(source, target, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend((u, v))
    return [float(c) for c in np.linalg.solve(np.array(rows, dtype=np.float64), np.array(rhs, dtype=np.float64))]


def _homography(
    source: list[tuple[float, float]], target: list[tuple[float, float]]
) -> Callable[[float, float], tuple[float, float]]:
    """The projective map taking each source corner to its target corner, as a function of (x, y)."""
    a, b, c, d, e, f, g, h = perspective_coefficients(target, source)  # maps source points to target points

    def apply(x: float, y: float) -> tuple[float, float]:
        w = g * x + h * y + 1
        return (a * x + b * y + c) / w, (d * x + e * y + f) / w

    return apply


def photo_of_screen(image: Image.Image, rng: random.Random) -> Image.Image:
    """A phone photo of the picture on a screen: the picture in a dark bezel over a blurred desk, the screen's pixel
    grid (a fine grating, which the camera's resampling turns into moiré), a perspective of up to 7% per corner,
    uneven light (brightness, contrast, colour cast, vignette), sensor noise, focus blur, and the camera's JPEG
    (quality 60-85) at 1,200-1,600 px on its long side."""
    nrng = np.random.default_rng(rng.getrandbits(63))
    width, height = image.size
    bezel = round(0.03 * width)
    margin_x, margin_y = round(width * rng.uniform(0.06, 0.14)), round(height * rng.uniform(0.05, 0.12))
    canvas_w, canvas_h = width + 2 * (bezel + margin_x), height + 2 * (bezel + margin_y)
    # the screen: washed out a little (a display is never paper-white), with its pixel grid
    period = rng.uniform(2.2, 3.4)
    angle = math.radians(rng.uniform(-8, 8))
    phase = (np.arange(width, dtype=np.float32) * math.cos(angle))[None, :]
    phase = phase + (np.arange(height, dtype=np.float32) * math.sin(angle))[:, None]
    gain = rng.uniform(0.8, 0.92) * (1 + rng.uniform(0.06, 0.14) * np.sin(phase * np.float32(2 * math.pi / period)))
    screen = np.asarray(image, dtype=np.float32) * gain[..., None] + 25
    framed = Image.new("RGBA", (width + 2 * bezel, height + 2 * bezel), (0, 0, 0, 0))
    ImageDraw.Draw(framed).rounded_rectangle((0, 0, *framed.size), radius=bezel, fill=(12, 12, 14, 255))
    framed.paste(Image.fromarray(np.clip(screen, 0, 255).astype(np.uint8)), (bezel, bezel))
    # the camera's angle (each corner of the frame moved inwards by up to 7% of the side) and its resolution (long
    # side 1,200-1,600 px), in one resampling without a low-pass filter: the screen's grid aliases into moiré
    jitter = 0.07
    scale = rng.randint(1200, 1600) / max(canvas_w, canvas_h)
    out_w, out_h = round(canvas_w * scale), round(canvas_h * scale)
    corners = [(0, 0), (canvas_w, 0), (canvas_w, canvas_h), (0, canvas_h)]
    target = [
        (
            (x + (1 if x == 0 else -1) * canvas_w * rng.uniform(0, jitter)) * scale,
            (y + (1 if y == 0 else -1) * canvas_h * rng.uniform(0, jitter)) * scale,
        )
        for x, y in corners
    ]
    to_photo = _homography(corners, target)
    local = [(0, 0), (framed.width, 0), (framed.width, framed.height), (0, framed.height)]
    placed = [to_photo(x + margin_x, y + margin_y) for x, y in local]
    screen_in_photo = framed.transform(
        (out_w, out_h), Image.Transform.PERSPECTIVE, perspective_coefficients(local, placed), Image.Resampling.BILINEAR
    )
    desk = scene(rng.randrange(1 << 30), max(32, out_w // 8), max(32, out_h // 8), shapes=6)
    desk_image = ImageEnhance.Brightness(Image.fromarray(desk).filter(ImageFilter.GaussianBlur(1)))
    photo = desk_image.enhance(rng.uniform(0.3, 0.6)).resize((out_w, out_h), Image.Resampling.BILINEAR).convert("RGBA")
    photo.alpha_composite(screen_in_photo)
    photo = photo.convert("RGB")
    # the camera's sensor and lens: light, colour cast, vignette, noise, blur
    photo = ImageEnhance.Contrast(photo).enhance(rng.uniform(0.75, 0.95))
    photo = ImageEnhance.Brightness(photo).enhance(rng.uniform(0.8, 1.15))
    cast = np.array([rng.uniform(0.9, 1.05), rng.uniform(0.95, 1.05), rng.uniform(0.95, 1.12)], dtype=np.float32)
    xs = ((np.arange(out_w, dtype=np.float32) - out_w / 2) / (out_w / 2)) ** 2
    ys = ((np.arange(out_h, dtype=np.float32) - out_h / 2) / (out_h / 2)) ** 2
    vignette = 1 - np.float32(rng.uniform(0.1, 0.3) / 2) * (xs[None, :] + ys[:, None])
    noise = nrng.standard_normal((out_h, out_w, 3), dtype=np.float32) * np.float32(rng.uniform(3, 7))
    pixels = np.asarray(photo, dtype=np.float32) * cast * vignette[..., None] + noise
    photo = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.2)))
    return _jpeg(photo, rng.randint(60, 85))


TRANSFORMS: dict[str, Transform] = {
    "jpeg": jpeg,
    "resize": resize,
    "crop": crop,
    "caption_bar": caption_bar,
    "watermark": watermark,
    "screenshot_of_screenshot": screenshot_of_screenshot,
    "rotate": rotate,
    "photo_of_screen": photo_of_screen,
}


def variant(image: Image.Image, name: str, seed: int) -> Image.Image:
    """The transformation `name` of the picture, with its own random stream for (name, seed)."""
    return TRANSFORMS[name](image.convert("RGB"), random.Random(f"{name}:{seed}"))


__all__ = ["TRANSFORMS", "Transform", "perspective_coefficients", "variant", *TRANSFORMS]
