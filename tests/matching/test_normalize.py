"""The text normaliser: tables of expected outputs, offsets back into the original, repost chains, properties."""

import random
import string
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import debunk.matching.normalize as normalize_module
from debunk.matching.normalize import Normalized, normalize, normalize_segments, split_repost_chain


def fold(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).lower()


def check_offsets(original: str, n: Normalized, *, strict: bool) -> None:
    assert len(n.offsets) == len(n.text)
    assert all(0 <= o < len(original) for o in n.offsets)
    pairs = list(zip(n.offsets, n.offsets[1:], strict=False))
    assert all(a < b for a, b in pairs) if strict else all(a <= b for a, b in pairs)


# --- tables ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("謠言", "谣言"),
        ("轉發", "转发"),
        ("臺灣", "台湾"),
        ("台灣", "台湾"),
        ("颱風要來了", "台风要来了"),
        ("這是謠言嗎", "这是谣言吗"),
        ("網絡謠言請勿轉發", "网络谣言请勿转发"),
        ("谣言", "谣言"),  # already simplified
        ("乾隆", "乾隆"),  # OpenCC keeps 乾 in this phrase
        ("乾燥", "干燥"),
        ("畢昇", "毕升"),  # t2s twice: 畢昇 → 毕昇 → 毕升, so that normalize is idempotent
        ("\uf900", "岂"),  # CJK compatibility ideograph (NFKC), then t2s
    ],
)
def test_traditional_to_simplified(text, expected):
    assert normalize(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),
        ("ｈｅｌｌｏ　ｗｏｒｌｄ", "helloworld"),
        ("２０２４年", "2024年"),
        ("①②③", "123"),
        ("ｶﾀｶﾅ", "カタカナ"),  # half-width katakana
        ("ﬁne", "fine"),
        ("㍻", "平成"),
        ("𝐁𝐨𝐥𝐝", "bold"),  # mathematical letters used to dodge filters
        ("ⓡⓤⓜⓞⓡ", "rumor"),
    ],
)
def test_full_width_and_compatibility_forms(text, expected):
    assert normalize(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ABC", "abc"),
        ("WHO Says", "whosays"),
        ("COVID-19", "covid19"),
        ("ÉTÉ", "été"),
        ("ΣΟΦΙΑ", "σοφια"),
        ("ПРАВДА", "правда"),
    ],
)
def test_lower_case(text, expected):
    assert normalize(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("谣言😂", "谣言"),
        ("🙏🏻转发", "转发"),
        ("👨‍👩‍👧家庭", "家庭"),
        ("❤️❤️❤️", ""),
        ("🇨🇳中国", "中国"),
        ("1️⃣第一", "第一"),
        ("#️⃣话题", "话题"),
        ("✅真相", "真相"),
        ("☀️晴", "晴"),
        ("👍🏿ok", "ok"),
        ("🏴󠁧󠁢󠁳󠁣󠁴󠁿", ""),  # tag sequence
        ("★☆♥→", ""),
    ],
)
def test_emoji_removed(text, expected):
    assert normalize(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[蜡烛][doge]悼念", "悼念"),
        ("[哈哈]笑死", "笑死"),
        ("[DOGE]", ""),
        ("[蠟燭]", ""),
        ("[二哈][允悲][good]", ""),
        ("［doge］", ""),  # full-width brackets
        ("[123]", "123"),  # digits are not an emoticon code
        ("[一二三四五六七八九]", "一二三四五六七八九"),  # more than 8 characters
    ],
)
def test_weibo_emoticons_removed(text, expected):
    assert normalize(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("谣\u200b言", "谣言"),
        ("a\u200db", "ab"),
        ("\ufeff开头", "开头"),
        ("a\u200cb\u2060c\u00add", "abcd"),
        ("a\x00b\x07c\x1bd\x7fe", "abcde"),
        ("a\u202eb\u202cc", "abc"),  # bidi overrides
        ("谣\ufe0f言", "谣言"),  # variation selector after a letter
    ],
)
def test_zero_width_and_control_characters_removed(text, expected):
    assert normalize(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("看这里https://t.cn/A6abc谣言", "看这里谣言"),
        ("http://example.com/x?y=1 假的", "假的"),
        ("HTTPS://Example.com/Path 真相", "真相"),
        ("t.cn/A6abcd 真相", "真相"),
        ("详见t.cn/A6abcd", "详见"),
        ("www.example.com 看", "看"),
        ("ＨＴＴＰＳ：／／ｔ．ｃｎ／ａｂｃ 真相", "真相"),  # full-width URL
        ("链接http://a.com/x//@user:原文", "链接原文"),
        ("bit.ly/xyz rumor", "rumor"),
        ("@人民日报 辟谣", "辟谣"),
        ("转发@user_1-2:内容", "转发内容"),
        ("@A @B 你好", "你好"),
        ("＠央视新闻：内容", "内容"),
        ("//@userA:他的评论", "他的评论"),
    ],
)
def test_urls_and_mentions_removed(text, expected):
    assert normalize(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#暴雨预警#", "暴雨预警"),
        ("#暴雨預警#北京", "暴雨预警北京"),
        ("＃话题＃", "话题"),
        ("#话题[超话]#", "话题"),
    ],
)
def test_hashtag_inner_text_kept(text, expected):
    assert normalize(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("，。！？、“”《》", ""),
        ("你好，世界！", "你好世界"),
        ("【紧急】「通知」『重要』（转）……——", "紧急通知重要转"),
        (f"x{string.punctuation}y", "xy"),
        ("a b\tc\nd\u3000e\xa0f\u2003g", "abcdefg"),
        ("100%真的！！！", "100真的"),
        ("一·二•三", "一二三"),
    ],
)
def test_punctuation_and_whitespace_removed(text, expected):
    assert normalize(text).text == expected


def test_combining_marks_kept_and_composed():
    assert normalize("cafe\u0301").text == normalize("café").text == "café"
    assert normalize("cafe\u0301").offsets == (0, 1, 2, 3)
    assert normalize("ที่นี่").text == "ที่นี่"  # Thai vowel and tone signs are marks
    assert normalize("😀\u0301a").text == "a"  # a mark after a removed character goes too


def test_empty_and_nothing_left():
    assert normalize("") == Normalized("", ())
    assert normalize("！！！😂 \n") == Normalized("", ())


# --- offsets ---------------------------------------------------------------------------------------------------------

_POOL = (
    "謠言轉發臺灣颱風這是假的乾隆畢昇谣言转发台湾ABCxyzÉé0123456789ＡＢＣｘｙｚ０１２"
    "，。！？、“”《》【】()[]#@:/.-_ \t\n\u3000😂🙏🏻\u200d\u200b\ufeff\ufe0f\x00"
)
_EXPANDING = "㍻ﬁ…½İ㈱"


def _random_texts(pool: str, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(pool) for _ in range(rng.randint(0, 60))) for _ in range(count)]


@pytest.mark.parametrize("text", _random_texts(_POOL, 200, seed=7))
def test_offsets_point_at_the_source_character(text):
    n = normalize(text)
    check_offsets(text, n, strict=True)
    for ch, offset in zip(n.text, n.offsets, strict=True):
        source = text[offset]
        assert ch in normalize(source).text or ch in fold(source), (ch, source)


@pytest.mark.parametrize("text", _random_texts(_POOL + _EXPANDING, 100, seed=11))
def test_offsets_with_expanding_characters(text):
    n = normalize(text)
    check_offsets(text, n, strict=False)
    for ch, offset in zip(n.text, n.offsets, strict=True):
        assert ch in normalize(text[offset]).text or ch in fold(text[offset])


def test_offsets_of_an_expanded_character_repeat():
    n = normalize("a㍻b")
    assert n.text == "a平成b"
    assert n.offsets == (0, 1, 1, 2)
    assert n.span_to_original(1, 2) == (1, 2)


def test_offsets_skip_removed_parts():
    text = "@某人 據說：颱風https://t.cn/x要來了！"
    n = normalize(text)
    assert n.text == "据说台风要来了"
    assert [text[o] for o in n.offsets] == list("據說颱風要來了")


@pytest.mark.parametrize(
    ("text", "needle", "original"),
    [
        ("【紧急】@某人 據說：颱風要來了！https://t.cn/x 转发", "台风要来", "颱風要來"),
        ("【紧急】@某人 據說：颱風要來了！https://t.cn/x 转发", "了转", "了！https://t.cn/x 转"),
        ("看看ＡＢＣ新闻", "abc新", "ＡＢＣ新"),
        ("#暴雨預警# 北京", "预警北京", "預警# 北京"),
        ("谣😂言", "谣言", "谣😂言"),
    ],
)
def test_span_to_original(text, needle, original):
    n = normalize(text)
    start = n.text.index(needle)
    s, e = n.span_to_original(start, start + len(needle))
    assert text[s:e] == original


def test_span_to_original_edges():
    n = normalize("ab，cd")
    assert n.span_to_original(0, 4) == (0, 5)
    assert n.span_to_original(2, 2) == (3, 3)
    assert n.span_to_original(4, 4) == (5, 5)
    assert normalize("").span_to_original(0, 0) == (0, 0)
    for start, end in [(-1, 2), (3, 2), (0, 5)]:
        with pytest.raises(ValueError):
            n.span_to_original(start, end)


# --- repost chains ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("我的评论//@userA: 他的评论//@userB:原文内容", ["我的评论", " 他的评论", "原文内容"]),
        ("我的评论//@userA：他的评论//@用户B：原文内容", ["我的评论", "他的评论", "原文内容"]),
        ("c1//@a:c2//@b:c3//@c:c4", ["c1", "c2", "c3", "c4"]),
        ("普通微博，没有转发链 http://t.cn/abc", ["普通微博，没有转发链 http://t.cn/abc"]),
        ("//@a://@b:原文", ["原文"]),
        ("转发//@a:   //@b:原文", ["转发", "原文"]),
        ("//@a:", []),
        ("", [""]),
        ("评论 // 不是链 @a: 也不是", ["评论 // 不是链 @a: 也不是"]),
        ("看http://t.cn/x//@a:原文", ["看http://t.cn/x", "原文"]),
    ],
)
def test_split_repost_chain(text, segments):
    spans = split_repost_chain(text)
    assert [text[s:e] for s, e in spans] == segments


def test_normalize_segments_offsets_into_the_whole_text():
    text = "假的！[怒]//@用户甲：轉發擴散 https://t.cn/A6abc//@用户乙:颱風明天登陸"
    segments = normalize_segments(text)
    assert [s.text for s in segments] == ["假的", "转发扩散", "台风明天登陆"]
    for segment, (start, end) in zip(segments, split_repost_chain(text), strict=True):
        assert all(start <= o < end for o in segment.offsets)
        assert segment.text == normalize(text[start:end]).text  # no phrase across a marker here
    last = segments[-1]
    s, e = last.span_to_original(0, 2)
    assert text[s:e] == "颱風"


def test_normalize_segments_without_chain():
    assert normalize_segments("简单的文本") == [normalize("简单的文本")]


# --- conversion fallback ---------------------------------------------------------------------------------------------


class _LengthChangingConverter:
    """t2s, except that a text of several characters gets one more: normalize must then go character by character."""

    def __init__(self, real, expand: str = ""):
        self.real = real
        self.expand = expand

    def convert(self, text: str) -> str:
        out = self.real.convert(text)
        if text == self.expand:
            return out + out
        return out + "吗" if len(text) > 1 else out


@pytest.fixture
def length_changing_t2s(monkeypatch):
    converter = _LengthChangingConverter(normalize_module._T2S)
    monkeypatch.setattr(normalize_module, "_T2S", converter)
    normalize_module._t2s_char.cache_clear()
    yield converter
    normalize_module._t2s_char.cache_clear()


def test_t2s_falls_back_to_single_characters(length_changing_t2s):
    text = "他說：颱風要來了"
    n = normalize(text)
    assert n.text == "他说台风要来了"
    check_offsets(text, n, strict=True)
    assert [text[o] for o in n.offsets] == list("他說颱風要來了")


def test_t2s_fallback_maps_a_grown_character_to_its_source(length_changing_t2s):
    length_changing_t2s.expand = "風"
    text = "颱，風"
    n = normalize(text)
    assert n.text == "台风风"
    assert n.offsets == (0, 2, 2)


# --- properties ------------------------------------------------------------------------------------------------------

_FRAGMENTS = [
    *"謠言轉發臺灣乾隆畢昇ＡＢＣＤ１２ABCabc0123éΣİ㍻ﬁ…",
    *"，。！？、“”《》#@:/.[]- \t\n\u3000",
    "😂",
    "🙏🏻",
    "👨\u200d👩\u200d👧",
    "1\ufe0f\u20e3",
    "\u200b",
    "\ufeff",
    "\ufe0f",
    "\u0301",
    "\u0e34",
    "e\u0301",
    "https://t.cn/",
    "http://",
    "www.",
    "t.cn/",
    "@user",
    "//@a:",
    "[doge]",
    "[蜡烛]",
    "#话题#",
]
_texts = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=3)), max_size=30).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(_texts)
def test_normalize_is_idempotent(text):
    n = normalize(text)
    assert normalize(n.text).text == n.text


@settings(max_examples=400, deadline=None)
@given(_texts)
def test_offsets_are_in_range_and_increasing(text):
    n = normalize(text)
    strict = all(len(fold(ch)) == 1 for ch in text)
    check_offsets(text, n, strict=strict)


@settings(max_examples=400, deadline=None)
@given(_texts)
def test_output_is_letters_digits_and_attached_marks(text):
    out = normalize(text).text
    assert not out or out[0].isalnum()
    for ch in out:
        assert not ch.isspace()
        assert unicodedata.category(ch)[0] in "LNM", (ch, unicodedata.category(ch))


@settings(max_examples=200, deadline=None)
@given(_texts)
def test_segments_are_the_whole_normalisation_sliced_by_span(text):
    whole = normalize(text)
    segments = normalize_segments(text)
    assert normalize_segments(text, whole) == segments
    for segment, (start, end) in zip(segments, split_repost_chain(text), strict=True):
        assert all(start <= o < end for o in segment.offsets)
        inside = [(ch, o) for ch, o in zip(whole.text, whole.offsets, strict=True) if start <= o < end]
        assert (segment.text, segment.offsets) == ("".join(ch for ch, _ in inside), tuple(o for _, o in inside))


def test_a_segment_keeps_the_conversion_of_the_whole_text():
    """The one way a segment differs from normalising its span alone: t2s saw a phrase across the marker."""
    text = "批//@某人:覆"
    assert normalize(text).text == "批复"  # 批覆 → 批复 as one phrase, once the marker is removed
    assert [s.text for s in normalize_segments(text)] == ["批", "复"]
    assert normalize("覆").text == "覆"  # alone, 覆 stays


def test_tables_scanned_at_import_cover_all_code_points():
    """normalize scans planes 0 and 1 only, for expanding characters and combining marks: nothing is missed."""
    expanding = set(normalize_module._EXPANDING_POINTS)
    for cp in range(0x20000, sys.maxunicode + 1):
        ch = chr(cp)
        assert len(fold(ch)) == 1 or cp in expanding, hex(cp)
        assert unicodedata.category(ch) not in ("Mn", "Mc") or 0xE0100 <= cp <= 0xE01EF, hex(cp)


# --- fast paths: the same answers as the full path -------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(_texts)
def test_normalize_text_is_the_text_of_normalize(text):
    assert normalize_module.normalize_text(text) == normalize(text).text


@pytest.mark.parametrize("check", ["_needs_fold", "_may_change"])
@settings(max_examples=400, deadline=None)
@given(text=_texts)
def test_fast_paths_change_nothing(check, text):
    """Against normalize with every text going through the fold table (_needs_fold) and converted (_may_change)."""
    fast = normalize(text), normalize_module.normalize_text(text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(normalize_module, check, lambda text: True)
        assert fast == (normalize(text), normalize_module.normalize_text(text))


def test_characters_left_unfolded_are_dropped_either_way():
    """A character that changes under the fold but is not taken by _needs_fold, and its fold, hold nothing normalize
    keeps or a removal pattern can match; checked here for every such character of planes 0 and 1."""
    skipped = [cp for cp in normalize_module._CHANGING_POINTS if not normalize_module._needs_fold(chr(cp))]
    assert len(skipped) > 100  # full-width punctuation among them
    assert "，" in map(chr, skipped) and "Ａ" not in map(chr, skipped) and "．" not in map(chr, skipped)
    for cp in skipped:
        for text in (
            chr(cp),
            f"a{chr(cp)}b",
            f"http://a{chr(cp)}b",
            f"@a{chr(cp)}b",
            f"[a{chr(cp)}]",
            f"謠{chr(cp)}言",
        ):
            folded = normalize(text.translate(normalize_module._FOLD))
            assert normalize(text).text == folded.text
            if len(fold(chr(cp))) == 1:
                assert normalize(text).offsets == folded.offsets


def test_t2s_changing_characters_are_read_from_opencc():
    from debunk.matching.opencc_dicts import changing_characters

    changing = changing_characters("t2s")
    assert normalize_module._T2S_CHANGING_BMP_RE is not None  # the dictionaries were read: the skip is in use
    assert {"說", "臺", "颱", "藉", "覆"} <= changing  # 藉 and 覆 change inside phrases only (找藉口, 批覆)
    assert normalize_module._T2S.convert("藉") == "藉" and normalize_module._T2S.convert("找藉口") == "找借口"
    assert normalize("批覆").text == "批复"
    assert not {"说", "台", "的", "谣", "a", "1"} & changing


def test_opencc_leaves_text_without_changing_characters_as_it_is():
    """What makes the skip safe, checked against OpenCC itself: random texts of the other CJK characters (the
    whole BMP ideograph blocks, and phrases around the characters that change only inside phrases) are unchanged."""
    from debunk.matching.opencc_dicts import changing_characters

    changing = changing_characters("t2s")
    pool = [chr(cp) for cp in [*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000)] if chr(cp) not in changing]
    rng = random.Random(11)
    for _ in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 40)))
        assert normalize_module._T2S.convert(text) == text
        assert not normalize_module._may_change(text)
    assert normalize_module._may_change("找藉口") and normalize_module._may_change("𠀀")
