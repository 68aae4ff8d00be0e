"""The image matching benchmark (`bench_images`): rumor screenshots rendered from real rumor texts, their variants as
they travel, and unrelated pictures, matched the way the product matches them (`debunk.images.decision`).

The data (read from ../shared/datasets, never copied):
- queried rumors: the fake posts of `claims_zh_checked.jsonl` (Weibo COVID posts that Weibo's reviewers judged
  false) of 20-400 normalised characters, one per normalised text. Many are near-duplicates of each other (the same
  claim posted with edits: 3-gram containment >= 0.5 either way, through any chain); each is a rumor of its own in
  the stock, and a variant matched to a near-duplicate of its post counts as matched, not as a wrong rumor
  (`queried_claims` counts the distinct ones);
- the rest of the rumor stock: more rumor screenshots (the other fake posts, then the CED Weibo rumor source posts of
  `repost_pairs.jsonl`, near-duplicates of anything already in the stock dropped) and photo-like scenes, up to
  `stock` pictures; each stock picture is fingerprinted by `pipeline.fingerprint_image` (stored as a JPEG of
  quality 92), its 8 dihedral hashes go into an `ImageHashIndex` under its rumor id, and its text into the
  text matcher's `MatchIndex`;
- unrelated pictures: screenshots of the posts labelled real in `claims_zh_checked.jsonl` (minus those whose text
  carries a stock rumor's text, counted), photo-like scenes and pictures without text.

Every screenshot is a Weibo-like post or a WeChat-like group chat (`render.py`) in a seeded layout: screen width
720-1,242 px, text size, serif or sans, status bar, the chat's other messages. Each queried rumor's screenshot goes
through each transformation of `image_variants.TRANSFORMS`, and each variant, sent as a JPEG (quality 95), is
matched: by hash (distance <= 31 to one of the rumor's stored hashes) or, where the hash found nothing, by OCR
(containment >= 0.8 of the rumor's text in the OCR text), as the product decides.

OCR takes about a second or more per picture, so it runs on seeded samples (`sample` per transformation, and
`ocr_unrelated` unrelated pictures) unless told otherwise; the figures name the sample sizes. Per transformation:
- `hash_match_rate`: variants whose own rumor is within 31 by hash (all variants);
- `ocr_match_rate`: variants whose own rumor's text is found at containment >= 0.8 in their OCR text (a sample);
- `match_rate`: by hash, or else by OCR: the hash's rate plus the share the hash missed times the OCR's rate on
  the missed ones (all of them when there are no more than `sample`, else a sample of them).
`false_match_rate` is the same combination over the unrelated pictures (any rumor matched), `wrong_rumor_rate` over
the variants (a rumor other than its own matched).
"""

import io
import json
import random
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter
from scipy import sparse

from debunk.bench import matching as bm
from debunk.bench.image_index import scene
from debunk.bench.image_variants import TRANSFORMS, variant
from debunk.bench.render import ChatMessage, Screenshot, drawable, wechat_chat, weibo_card
from debunk.images import decision
from debunk.images.decode import decode_image
from debunk.images.index import ImageHashIndex
from debunk.images.pipeline import ImagePrint, fingerprint_image
from debunk.matching.fingerprint import positional_shingles
from debunk.matching.index import MatchIndex
from debunk.matching.normalize import normalize_text

CLAIMS_FILE = "claims_zh_checked.jsonl"
REPOSTS_FILE = "repost_pairs.jsonl"
QUERY_LENGTH = (20, 400)  # normalised characters of a queried rumor (a screenshot shows it whole)
STOCK_LENGTH = (20, 600)
UNRELATED_SHOWN = 300  # characters of a real post shown before "…全文" (a feed shows the start of long posts)
NEAR_DUPLICATE = 0.5  # 3-gram containment either way that makes two texts the same rumor
QUERY_JPEG = 95  # what a variant is sent as
STOCK_JPEG = 92  # what a stock screenshot is stored as
SCENE_SHARE = 0.2  # of the stock beyond the screenshots, at least

FIRST = ("小", "老", "阿", "大", "")
NICK = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴")
TAIL = ("爱生活", "看世界", "说新闻", "的日常", "2020", "健康", "在路上", "不打烊", "养生堂", "快报")
GROUPS = ("相亲相爱一家人", "业主交流群", "同学会", "广场舞姐妹", "幸福小区三期", "老乡群", "单位通知群")
INTROS = ("大家注意！", "刚看到的，扩散一下", "转自朋友圈", "这个是真的吗？", "家里有老人的看看", "[转发]")
REPLIES = ("收到，谢谢提醒", "真的假的？", "已转发", "太可怕了", "谢谢分享", "好的")
DEVICES = ("iPhone 11", "HUAWEI Mate 30", "vivo X50", "OPPO Reno4", "小米10", "微博 weibo.com", "iPhone客户端")


# ---- data ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Post:
    key: str
    text: str  # as drawn (`render.drawable`)
    reposts: int = 0
    comments: int = 0


def read_jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_posts(datasets: Path) -> tuple[list[Post], list[Post], list[Post]]:
    """(fake posts, real posts) of claims_zh_checked.jsonl and the Chinese rumor source posts of repost_pairs.jsonl
    (empty when that file is absent). A `FileNotFoundError` when claims_zh_checked.jsonl is absent."""
    path = datasets / CLAIMS_FILE
    if not path.is_file():
        raise FileNotFoundError(path)
    fakes, reals, others = [], [], []
    for record in read_jsonl(path):
        post = Post(
            record["claim_id"],
            drawable(record.get("text") or ""),
            int(record.get("repost_num") or 0),
            int(record.get("comment_num") or 0),
        )
        (fakes if record.get("verdict") == "fake" else reals).append(post)
    reposts = datasets / REPOSTS_FILE
    if reposts.is_file():
        for record in read_jsonl(reposts):
            if record.get("lang") == "zh" and record.get("rumor_text"):
                others.append(Post(record["rumor_id"], drawable(record["rumor_text"])))
    return fakes, reals, others


def _shingle_matrix(texts: Sequence[str]) -> tuple[sparse.csr_matrix, np.ndarray]:
    sets = [np.unique(positional_shingles(normalize_text(t))) for t in texts]
    sizes = np.array([s.size for s in sets], dtype=np.float64)
    flat = np.concatenate(sets) if sets else np.zeros(0, np.uint32)
    _, cols = np.unique(flat, return_inverse=True)
    rows = np.repeat(np.arange(len(sets)), [s.size for s in sets])
    matrix = sparse.csr_matrix(
        (np.ones(flat.size, np.float32), (rows, cols)), shape=(len(sets), int(cols.max(initial=-1)) + 1)
    )
    return matrix, sizes


def overlaps(texts: Sequence[str]) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Shared 3-gram counts between every pair of texts (sparse) and each text's 3-gram count."""
    matrix, sizes = _shingle_matrix(texts)
    return (matrix @ matrix.T).tocsr(), sizes


def distinct(texts: Sequence[str], *, keep_first: int = 0, threshold: float = NEAR_DUPLICATE) -> list[int]:
    """Indices of texts kept in order, a text dropped when it shares >= threshold of its 3-grams with a kept one or a
    kept one shares that much with it (the first `keep_first` are kept as they are: they were chosen already)."""
    shared, sizes = overlaps(texts)
    kept = np.zeros(len(texts), dtype=bool)
    kept[:keep_first] = True
    out = list(range(keep_first))
    for i in range(keep_first, len(texts)):
        if sizes[i] == 0:
            continue
        row = shared.getrow(i)
        cols, counts = row.indices, row.data
        mask = kept[cols] & (cols != i)
        if mask.any():
            worst = np.maximum(counts[mask] / sizes[i], counts[mask] / np.maximum(sizes[cols[mask]], 1)).max()
            if worst >= threshold:
                continue
        kept[i] = True
        out.append(i)
    return out


def carries(texts: Sequence[str], stock: Sequence[str], threshold: float = NEAR_DUPLICATE) -> np.ndarray:
    """bool per text: it shares >= threshold of a stock text's 3-grams, or the stock text that much of its own."""
    shared, sizes = overlaps([*stock, *texts])
    n = len(stock)
    block = shared[n:, :n].tocoo()
    out = np.zeros(len(texts), dtype=bool)
    if block.nnz:
        share = np.maximum(
            block.data / np.maximum(sizes[n + block.row], 1), block.data / np.maximum(sizes[block.col], 1)
        )
        out[np.unique(block.row[share >= threshold])] = True
    return out


def _normalised_length(text: str) -> int:
    return len(normalize_text(text))


@dataclass
class Dataset:
    queried: list[Post]  # rumor ids 0..len-1
    groups: list[frozenset[int]]  # per queried rumor: the queried rumors carrying the same text (near-duplicates)
    extra: list[Post]  # rumor ids after them
    unrelated_posts: list[Post]
    excluded_real: int  # real posts left out of the unrelated ones (of all): their text carries a stock rumor's


def choose(datasets: Path, rumors: int, stock_screenshots: int, unrelated_posts: int, seed: int = 0) -> Dataset:
    """The queried rumors, the other rumor screenshots of the stock (up to `stock_screenshots` in all) and the real
    posts shown as unrelated screenshots, in a seeded order; see the module docstring."""
    fakes, reals, others = load_posts(datasets)
    rng = random.Random(f"bench_images:{seed}")
    order = list(fakes)
    rng.shuffle(order)
    lo, hi = QUERY_LENGTH
    eligible, seen = [], set()
    for post in order:
        normalised = normalize_text(post.text)
        if lo <= len(normalised) <= hi and normalised not in seen:
            seen.add(normalised)
            eligible.append(post)
    queried = eligible[:rumors]
    chosen = {p.key for p in queried}
    lo, hi = STOCK_LENGTH
    more = [p for p in (*order, *others) if p.key not in chosen and lo <= _normalised_length(p.text) <= hi]
    candidates = [*queried, *more]
    keep = distinct([p.text for p in candidates], keep_first=len(queried))
    extra = [candidates[i] for i in keep[len(queried) :]][: max(0, stock_screenshots - len(queried))]
    real_pool = [p for p in reals if _normalised_length(p.text) >= lo]
    rng.shuffle(real_pool)
    shown = [Post(p.key, shown_text(p.text), p.reposts, p.comments) for p in real_pool]
    stock_texts = [p.text for p in (*queried, *extra)]
    bad = carries([p.text for p in shown], stock_texts) if shown else np.zeros(0, bool)
    unrelated = [p for p, b in zip(shown, bad, strict=True) if not b]
    return Dataset(queried, near_groups([p.text for p in queried]), extra, unrelated[:unrelated_posts], int(bad.sum()))


def near_groups(texts: Sequence[str], threshold: float = NEAR_DUPLICATE) -> list[frozenset[int]]:
    """For each text, the indices of the texts it is a near-duplicate of, through any chain (itself included)."""
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if texts:
        shared, sizes = overlaps(texts)
        pairs = shared.tocoo()
        share = np.maximum(pairs.data / np.maximum(sizes[pairs.row], 1), pairs.data / np.maximum(sizes[pairs.col], 1))
        for a, b in zip(pairs.row[share >= threshold].tolist(), pairs.col[share >= threshold].tolist(), strict=True):
            parent[root(a)] = root(b)
    members: dict[int, set[int]] = {}
    for i in range(len(texts)):
        members.setdefault(root(i), set()).add(i)
    return [frozenset(members[root(i)]) for i in range(len(texts))]


def shown_text(text: str) -> str:
    """A long post as a feed shows it: its start, then "…全文"."""
    return text if len(text) <= UNRELATED_SHOWN else text[:UNRELATED_SHOWN] + "…全文"


# ---- pictures --------------------------------------------------------------------------------------------------------
def nickname(rng: random.Random) -> str:
    return rng.choice(FIRST) + rng.choice(NICK) + rng.choice(TAIL)


def render_post(post: Post, seed: int) -> Screenshot:
    """The post's screenshot in a seeded layout: Weibo-like (55%) or a WeChat-like group chat."""
    rng = random.Random(f"post:{seed}")
    width = rng.choice((720, 828, 1080, 1080, 1170, 1242))
    scale = width / 1080 * rng.uniform(0.9, 1.15)
    if rng.random() < 0.55:
        likes = rng.randint(0, 5000)
        if rng.random() < 0.5:
            meta = f"{rng.randint(1, 23)}小时前 来自 {rng.choice(DEVICES)}"
        else:
            day = f"2020-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            meta = f"{day} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        return weibo_card(
            post.text,
            name=nickname(rng),
            meta=meta,
            counters=(
                f"转发 {post.reposts or rng.randint(1, 999)}",
                f"评论 {post.comments or rng.randint(1, 999)}",
                f"赞 {likes}",
            ),
            width=width,
            scale=scale,
            avatar=tuple(rng.randint(60, 230) for _ in range(3)),  # type: ignore[arg-type]
            serif=rng.random() < 0.15,
            rich=True,
        )
    messages = []
    if rng.random() < 0.5:
        messages.append(ChatMessage(nickname(rng), rng.choice(INTROS), tuple(rng.randint(60, 230) for _ in range(3))))
    sender, colour = nickname(rng), tuple(rng.randint(60, 230) for _ in range(3))
    for paragraph in post.text.split("\n"):
        messages.append(ChatMessage(sender, paragraph, colour))  # type: ignore[arg-type]
    if rng.random() < 0.6:
        messages.append(ChatMessage("", rng.choice(REPLIES), (90, 120, 200)))
    return wechat_chat(
        messages,
        title=f"{rng.choice(GROUPS)}({rng.randint(12, 499)})",
        stamp=rng.choice(("昨天", "星期三", "上午", "下午", "晚上"))
        + f" {rng.randint(6, 23)}:{rng.randint(0, 59):02d}",
        width=width,
        scale=scale,
        status_time=f"{rng.randint(6, 23)}:{rng.randint(0, 59):02d}" if rng.random() < 0.6 else None,
    )


def photo(seed: int) -> Image.Image:
    """A photo-like picture: a generated scene (drawn at half size) at a camera-like size, sensor noise and blur."""
    rng = random.Random(f"photo:{seed}")
    width, height = rng.choice(((1024, 768), (1280, 960), (960, 1280), (1080, 1080), (1280, 720)))
    drawn = Image.fromarray(scene(seed, width // 2, height // 2, shapes=rng.randint(8, 20)))
    pixels = np.asarray(drawn.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    noise = np.random.default_rng(seed).standard_normal(pixels.shape, dtype=np.float32)
    image = Image.fromarray(np.clip(pixels + noise * np.float32(rng.uniform(2, 6)), 0, 255).astype(np.uint8))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))


def text_free(seed: int) -> Image.Image:
    """A picture without text: a flat colour, a gradient, noise, stripes, a blurred scene or an empty chat screen."""
    rng = random.Random(f"plain:{seed}")
    width, height = rng.choice(((1080, 1920), (1024, 768), (800, 800), (1080, 1350)))
    kind = seed % 6
    nrng = np.random.default_rng(seed)
    if kind == 0:
        return Image.new("RGB", (width, height), tuple(rng.randint(0, 255) for _ in range(3)))  # type: ignore[arg-type]
    if kind == 1:
        t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        a, b = nrng.integers(0, 256, 3), nrng.integers(0, 256, 3)
        return Image.fromarray((a + (b - a) * t).repeat(width, axis=1).astype(np.uint8))
    if kind == 2:
        return Image.fromarray(nrng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)).resize(
            (width, height)
        )
    if kind == 3:
        period = rng.randint(8, 80)
        stripes = ((np.arange(width) // period) % 2).astype(np.uint8)[None, :, None] * 200 + 30
        return Image.fromarray(np.broadcast_to(stripes, (height, width, 3)).copy())
    if kind == 4:
        return Image.fromarray(scene(seed + 7_000_000, width, height)).filter(ImageFilter.GaussianBlur(25))
    return Image.fromarray(
        wechat_chat([], title="", stamp="", width=width, scale=width / 1080).pixels
    )  # an empty chat: bars, no text


def encode(image: Image.Image, fmt: str = "JPEG", quality: int = QUERY_JPEG) -> bytes:
    out = io.BytesIO()
    if fmt == "PNG":
        image.save(out, "PNG", compress_level=1)
    else:
        image.save(out, "JPEG", quality=quality)
    return out.getvalue()


# ---- work done in worker processes (pure, picklable) -----------------------------------------------------------------
@dataclass
class Fingerprinted:
    key: Any
    print: ImagePrint
    data: bytes | None = None  # the bytes matched (variants and unrelated pictures, until no longer needed)
    path: str = ""  # where a stock picture was written, when asked for (the HTTP server's attachments)


def _stock_item(task: tuple[int, str, Any, int, str]) -> Fingerprinted:
    rumor_id, kind, payload, seed, directory = task
    if kind == "screenshot":
        data = encode(Image.fromarray(render_post(payload, seed).pixels), "JPEG", STOCK_JPEG)
    else:
        data = encode(photo(seed), "JPEG", 90)
    suffix = "jpg"
    path = ""
    if directory:
        path = str(Path(directory) / f"rumor-{rumor_id}.{suffix}")
        Path(path).write_bytes(data)
    return Fingerprinted(rumor_id, fingerprint_image(data), None, path)


def _variant_items(task: tuple[int, Post, int, tuple[str, ...]]) -> list[Fingerprinted]:
    rumor_id, post, seed, names = task
    original = Image.fromarray(render_post(post, seed).pixels)
    out = []
    for name in names:
        data = encode(variant(original, name, seed))
        out.append(Fingerprinted((rumor_id, name), fingerprint_image(data), data))
    return out


def _unrelated_item(task: tuple[int, str, Any, int]) -> Fingerprinted:
    index, kind, payload, seed = task
    if kind == "post":
        data = encode(Image.fromarray(render_post(payload, seed).pixels))
    elif kind == "photo":
        data = encode(photo(seed), "JPEG", 88)
    else:
        data = encode(text_free(seed))
    return Fingerprinted(("unrelated", index, kind), fingerprint_image(data), data)


def ocr_bytes(data: bytes) -> tuple[str, float]:
    """The OCR text of image bytes as the product reads them (safe decode at full size, then `ocr.ocr`) and the OCR's
    seconds."""
    from debunk.images import ocr

    result = ocr.ocr(decode_image(data).array())
    return result.text, result.seconds


def _ocr_item(task: tuple[Any, bytes]) -> tuple[Any, str, float]:
    key, data = task
    return (key, *ocr_bytes(data))


class Runner:
    """Runs work items inline (jobs=1) or in `jobs` forked worker processes, results in order, with a progress bar."""

    def __init__(self, jobs: int, bar: Callable[..., Any]) -> None:
        self.jobs = jobs
        self.bar = bar
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "Runner":
        if self.jobs > 1:
            self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=get_context("fork"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def map(self, fn: Callable[[Any], Any], tasks: list[Any], desc: str, unit: str = "image") -> Iterator[Any]:
        with self.bar(total=len(tasks), desc=desc, unit=unit) as bar:
            mapped = self._pool.map(fn, tasks, chunksize=1) if self._pool is not None else map(fn, tasks)
            for result in mapped:
                bar.update(1)
                yield result


# ---- the stock -------------------------------------------------------------------------------------------------------
@dataclass
class Stock:
    claims: list[str]  # per rumor id: the text, or a short placeholder for a picture rumor
    images: list[Fingerprinted]  # one per rumor id, in rumor id order
    hash_index: ImageHashIndex
    text_index: MatchIndex
    prepared: bm.Prepared  # the texts and their fingerprints (what the HTTP server loads)
    screenshots: int


def build_stock(data: Dataset, total: int, runner: Runner, *, directory: str = "") -> Stock:
    """The queried rumors' and the extra rumor screenshots, then scenes up to `total` pictures (at least
    SCENE_SHARE of them when the screenshots alone reach it), fingerprinted and indexed as the product stores them."""
    posts = [*data.queried, *data.extra]
    scenes = max(total - len(posts), 0)
    tasks: list[tuple[int, str, Any, int, str]] = [
        (i, "screenshot", post, i, directory) for i, post in enumerate(posts)
    ]
    tasks += [(len(posts) + k, "scene", None, 500_000 + k, directory) for k in range(scenes)]
    images = list(runner.map(_stock_item, tasks, "stock"))
    claims = [p.text for p in posts] + [f"图片谣言{k}" for k in range(scenes)]
    hashes, ids = decision.stock_rows((item.key, item.print) for item in images)
    prepared = bm.prepare(claims)
    return Stock(claims, images, ImageHashIndex.build(hashes, ids), MatchIndex(prepared.entries), prepared, len(posts))


# ---- evaluation ------------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one queried picture got: its hash hits (<= HASH_REVIEW) and, once read, its OCR hits (>= OCR_REVIEW)."""

    own: frozenset[int] | None  # the picture's own rumor and its near-duplicates; None for an unrelated picture
    quality: int
    hashes: list[tuple[int, int]]
    data: bytes | None = None
    ocr_text: str | None = None
    ocr_seconds: float = 0.0
    ocr: list[tuple[int, float]] = field(default_factory=list)
    ocr_plain: list[tuple[int, float]] = field(default_factory=list)  # whole text only (no line groups)

    def hash_auto(self) -> list[int]:
        return [r for r, d in self.hashes if d <= decision.HASH_AUTO]

    def hash_own(self) -> bool:
        return any(r in (self.own or ()) for r in self.hash_auto())

    def hash_wrong(self) -> bool:
        return any(r not in (self.own or ()) for r in self.hash_auto())

    def ocr_auto(self, plain: bool = False) -> list[int]:
        return [r for r, c in (self.ocr_plain if plain else self.ocr) if c >= decision.OCR_AUTO]

    def ocr_own(self, plain: bool = False) -> bool:
        return any(r in (self.own or ()) for r in self.ocr_auto(plain))

    def own_containment(self) -> float:
        """The best containment of the own rumor (or a near-duplicate) in the OCR text; 0 under OCR_REVIEW."""
        return max((c for r, c in self.ocr if r in (self.own or ())), default=0.0)

    def ocr_wrong(self) -> bool:
        return any(r not in (self.own or ()) for r in self.ocr_auto())

    def review_only(self) -> bool:
        """Not matched, but the own rumor (for an unrelated picture: any rumor) in a review band of a path tried."""
        if self.hash_auto() or self.ocr_auto():
            return False
        hit = [r for r, _ in self.hashes] + [r for r, _ in self.ocr]
        return any(r in self.own for r in hit) if self.own is not None else bool(hit)


def matched(stock: Stock, item: Fingerprinted, own: frozenset[int] | None, keep: bool) -> Outcome:
    hits = decision.hash_hits(stock.hash_index, item.print, decision.HASH_REVIEW)
    outcome = Outcome(own, item.print.quality, hits)
    if keep:
        outcome.data = item.data
    return outcome


def read(stock: Stock, outcomes: dict[Any, Outcome], keys: list[Any], runner: Runner, desc: str) -> None:
    """OCR of the given pictures, then their text hits with and without the line groups."""
    todo = [(k, outcomes[k].data) for k in keys if outcomes[k].ocr_text is None]
    for key, text, seconds in runner.map(_ocr_item, todo, desc):
        outcome = outcomes[key]
        outcome.ocr_text, outcome.ocr_seconds = text, seconds
        outcome.ocr = decision.ocr_hits(stock.text_index, text, decision.OCR_REVIEW)
        outcome.ocr_plain = decision.ocr_hits(stock.text_index, text, decision.OCR_REVIEW, groups=False)


def sample(keys: list[Any], size: int | None, label: str) -> list[Any]:
    """A seeded sample of `size` keys, in their order (all of them when size is None or not smaller)."""
    if size is None or size >= len(keys):
        return list(keys)
    chosen = set(random.Random(f"sample:{label}").sample(range(len(keys)), size))
    return [k for i, k in enumerate(keys) if i in chosen]


def missed_sample(
    own_sample: list[Any], outcomes: dict[Any, Outcome], rumors: int, name: str, size: int | None
) -> list[Any]:
    """The variants of a transformation the hash missed that OCR reads: all of them when there are no more than
    `size`, else a uniform sample of `size` of them that reuses those of the OCR sample (read anyway), topped up at
    random from the others."""
    missed = [(i, name) for i in range(rumors) if not outcomes[(i, name)].hash_auto()]
    if size is None or len(missed) <= size:
        return missed
    reused = [k for k in own_sample if not outcomes[k].hash_auto()]
    rest = [k for k in missed if k not in set(reused)]
    chosen = set(reused) | set(sample(rest, size - len(reused), f"missed:{name}"))
    return [k for k in missed if k in chosen]


def rate(values: Iterable[bool]) -> float | None:
    flags = list(values)
    return round(sum(flags) / len(flags), 4) if flags else None


def decided(outcomes: list[Outcome], read_missed: list[Outcome]) -> tuple[float, float]:
    """(own rumor matched, another rumor matched) shares under the product's rule: the hash decides when it has an
    auto hit, OCR when it has none. The OCR part is estimated on `read_missed` (the hash-missed pictures read: all
    of them, or a sample): hash's share + (share the hash missed) x (OCR's share among those read)."""
    by_hash = [o for o in outcomes if o.hash_auto()]
    missed = len(outcomes) - len(by_hash)
    own_ocr = statistics.fmean(o.ocr_own() for o in read_missed) if read_missed else 0.0
    wrong_ocr = statistics.fmean(o.ocr_wrong() for o in read_missed) if read_missed else 0.0
    n = max(len(outcomes), 1)
    own = (sum(o.hash_own() for o in by_hash) + missed * own_ocr) / n
    wrong = (sum(o.hash_wrong() for o in by_hash) + missed * wrong_ocr) / n
    return round(own, 4), round(wrong, 4)


@dataclass
class Run:
    """The matched pictures of a run, for the figures and the HTTP measurements."""

    stock: Stock
    outcomes: dict[Any, Outcome]
    names: tuple[str, ...]
    rumors: int
    own_sample: dict[str, list[Any]]
    missed_read: dict[str, list[Any]]
    unrelated_read: list[Any]


HTTP_HASH_BODIES = 40  # variants matched by hash kept for the HTTP measurement
HTTP_HASH_FROM = ("jpeg", "resize", "watermark", "caption_bar")


def run_matching(
    data: Dataset,
    *,
    stock_size: int,
    unrelated: int,
    sample_size: int | None,
    ocr_unrelated: int | None,
    runner: Runner,
    say: Callable[[str], None],
    directory: str = "",
    names: tuple[str, ...] = tuple(TRANSFORMS),
) -> Run:
    stock = build_stock(data, stock_size, runner, directory=directory)
    say(f"stock: {len(stock.images)} pictures, {len(stock.hash_index)} hashes, {len(stock.text_index)} texts")
    rumors = len(data.queried)
    own_sample = {name: sample([(i, name) for i in range(rumors)], sample_size, name) for name in names}
    wanted = {k for keys in own_sample.values() for k in keys}
    outcomes: dict[Any, Outcome] = {}
    kept_for_http = 0
    tasks = [(i, post, i, names) for i, post in enumerate(data.queried)]
    for group in runner.map(_variant_items, tasks, "variants", unit="rumor"):
        for item in group:
            outcome = matched(stock, item, data.groups[item.key[0]], keep=False)
            http_body = kept_for_http < HTTP_HASH_BODIES and item.key[1] in HTTP_HASH_FROM and outcome.hash_own()
            kept_for_http += http_body
            if item.key in wanted or not outcome.hash_auto() or http_body:
                outcome.data = item.data
            outcomes[item.key] = outcome
    photos = round(unrelated * 0.3)
    kinds = ["post"] * min(len(data.unrelated_posts), unrelated - photos)
    kinds += ["photo"] * photos
    kinds += ["plain"] * max(0, unrelated - len(kinds))
    unrelated_sample = set(sample(list(range(len(kinds))), ocr_unrelated, "unrelated"))
    tasks_u = [
        (k, kind, data.unrelated_posts[k] if kind == "post" else None, 900_000 + k) for k, kind in enumerate(kinds)
    ]
    for item in runner.map(_unrelated_item, tasks_u, "unrelated"):
        outcomes[item.key] = matched(stock, item, None, keep=item.key[1] in unrelated_sample)

    # OCR, as the product reads only what the hash did not match: per transformation the variants the hash missed (all
    # of them up to the sample size, else a sample) and, for OCR's own rate, a sample of all variants.
    missed_read = {name: missed_sample(own_sample[name], outcomes, rumors, name, sample_size) for name in names}
    unrelated_read = [k for k, o in outcomes.items() if o.own is None and o.data is not None and not o.hash_auto()]
    to_read = list(
        dict.fromkeys([*(k for v in missed_read.values() for k in v), *(k for v in own_sample.values() for k in v)])
    )
    say(f"ocr: {len(to_read)} variants and {len(unrelated_read)} unrelated pictures to read")
    read(stock, outcomes, to_read + unrelated_read, runner, "ocr")
    for outcome in outcomes.values():  # keep only the bytes the HTTP measurement may send
        if outcome.own is None or not (outcome.hash_own() or outcome.ocr_own()):
            outcome.data = None
    return Run(stock, outcomes, names, rumors, own_sample, missed_read, unrelated_read)


def match_figures(run: Run) -> dict[str, Any]:
    outcomes = run.outcomes
    out: dict[str, Any] = {}
    match_rate, hash_rate, ocr_rate, plain_rate, review, sampled, missed, lowest = {}, {}, {}, {}, {}, {}, {}, {}
    wrong_rates, wrong_hash, wrong_ocr = [], 0, 0
    for name in run.names:
        variants = [outcomes[(i, name)] for i in range(run.rumors)]
        read_missed = [outcomes[k] for k in run.missed_read[name]]
        own, wrong = decided(variants, read_missed)
        match_rate[name] = own
        wrong_rates.append(wrong)
        hash_rate[name] = rate(o.hash_own() for o in variants)
        ocr_rate[name] = rate(outcomes[k].ocr_own() for k in run.own_sample[name])
        plain_rate[name] = rate(outcomes[k].ocr_own(plain=True) for k in run.own_sample[name])
        lowest[name] = min((outcomes[k].own_containment() for k in run.own_sample[name]), default=None)
        review[name] = rate(o.review_only() for o in read_missed)
        sampled[name] = len(run.own_sample[name])
        missed[name] = f"{len(read_missed)}/{sum(1 for o in variants if not o.hash_auto())}"
        wrong_hash += sum(o.hash_wrong() for o in variants)
        wrong_ocr += sum(o.ocr_wrong() for o in read_missed)
    unrelated = [o for o in outcomes.values() if o.own is None]
    unrelated_read = [outcomes[k] for k in run.unrelated_read]
    _, false_rate = decided(unrelated, unrelated_read)
    seconds = [o.ocr_seconds for o in outcomes.values() if o.ocr_text is not None]
    out["stock_images"] = len(run.stock.images)
    out["stock_rumor_screenshots"] = run.stock.screenshots
    out["queried_rumors"] = run.rumors
    out["variants"] = run.rumors * len(run.names)
    out["unrelated_images"] = len(unrelated)
    out["match_rate"] = match_rate
    out["hash_match_rate"] = hash_rate
    out["ocr_match_rate"] = ocr_rate
    out["ocr_match_rate_whole_text_only"] = plain_rate
    out["ocr_own_containment_min"] = lowest
    out["review_only_rate_of_hash_missed"] = review
    out["ocr_sampled_variants"] = sampled
    out["ocr_read_of_hash_missed"] = missed
    out["false_match_rate"] = false_rate
    out["false_matches_hash"] = sum(bool(o.hash_auto()) for o in unrelated)
    out["false_matches_ocr"] = f"{sum(o.ocr_wrong() for o in unrelated_read)}/{len(unrelated_read)} read"
    out["false_review_hash"] = sum(1 for o in unrelated if not o.hash_auto() and o.hashes)
    out["unrelated_low_quality_hashes"] = sum(1 for o in unrelated if o.quality < decision.MIN_QUALITY)
    out["wrong_rumor_rate"] = round(statistics.fmean(wrong_rates), 4) if wrong_rates else None
    out["wrong_rumor_hash"] = wrong_hash
    out["wrong_rumor_ocr"] = wrong_ocr
    out["ocr_ms_p50_bench_images"] = round(statistics.median(seconds) * 1000, 1) if seconds else None
    return out


def figures(
    datasets: Path,
    *,
    rumors: int = 200,
    stock_size: int = 1000,
    unrelated: int = 1000,
    sample_size: int | None = 12,
    ocr_unrelated: int | None = 24,
    jobs: int = 2,
    bar: Callable[..., Any],
    say: Callable[[str], None],
    http: Callable[[Run], dict[str, Any]] | None = None,
    index_size: int = 1_000_000,
    ocr_images: int = 5,
    directory: str = "",
    transforms: tuple[str, ...] = tuple(TRANSFORMS),
) -> dict[str, Any]:
    """Everything `bench_images` prints, in one run; see the module docstring. `directory` receives the stock's
    files (for the HTTP server), `http` measures the API on the run."""
    from debunk.bench import image_index as bix
    from debunk.bench.ocr import ocr_figures

    started = time.perf_counter()
    photos, plain = round(unrelated * 0.3), round(unrelated * 0.2)
    data = choose(
        datasets, rumors, max(rumors, stock_size - round(stock_size * SCENE_SHARE)), unrelated - photos - plain
    )
    if len(data.queried) < rumors:
        say(f"only {len(data.queried)} fake posts of {QUERY_LENGTH[0]}-{QUERY_LENGTH[1]} characters to query")
    say(
        f"data: {len(data.queried)} queried rumor posts ({len(set(data.groups))} distinct claims), "
        f"{len(data.extra)} more rumor screenshots, {len(data.unrelated_posts)} real posts "
        f"({data.excluded_real} left out: they carry a stock rumor's text)"
    )
    with Runner(jobs, bar) as runner:
        run = run_matching(
            data,
            stock_size=stock_size,
            unrelated=unrelated,
            sample_size=sample_size,
            ocr_unrelated=ocr_unrelated,
            runner=runner,
            say=say,
            directory=directory,
            names=transforms,
        )
    out = match_figures(run)
    out["queried_claims"] = len(set(data.groups))
    out["unrelated_real_posts_left_out"] = data.excluded_real
    out["ocr_sample_note"] = (
        "OCR rates on seeded samples: ocr_sampled_variants per transformation (ocr_match_rate), "
        "ocr_read_of_hash_missed read/missed (match_rate's OCR part), false_matches_ocr read/unrelated missed by hash"
    )
    out["matching_s"] = round(time.perf_counter() - started, 1)
    say(f"matching done in {out['matching_s']} s")
    if ocr_images:
        say(f"OCR timing: bench_ocr's {ocr_images} rendered posts, one at a time")
        measured = ocr_figures(ocr_images, threads=1, long_height=0)
        out["ocr_ms_p50"] = measured["ocr_ms_p50"]
        out["ocr_ms_p95"] = measured["ocr_ms_p95"]
    if http is not None:
        out.update(http(run))
    if index_size:
        say(f"image index: {index_size:,} random hashes, multi-index hashing against a numpy scan (same run)")
        measured = bix.index_figures(index_size, 200)
        label = bix.size_label(index_size)
        out[f"index_query_ms_{label}"] = measured[f"index_query_ms_{label}"]
        out[f"numpy_scan_ms_{label}"] = measured[f"numpy_scan_ms_{label}"]
        out[f"index_agrees_with_numpy_{label}"] = measured[f"index_agrees_with_numpy_{label}"]
        say("decode + PDQ of 1024x768 JPEGs through the fingerprint pipeline")
        out["hash_ms_p50"] = bix.hash_figures()["hash_ms_p50"]
    return out
