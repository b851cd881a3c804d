"""crawler/normalize.py: storage form (clean_text), entities, bylines, boilerplate, matching form."""

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crawler.normalize import (
    byline_of,
    clean_text,
    clean_title,
    fold_for_matching,
    fold_tone_marks,
    is_credit_line,
    is_related_heading,
    looks_like_name,
    unescape_entities,
)

# --- clean_text ----------------------------------------------------------------------------------

CLEAN = [
    # NFD input (base letters + combining marks) comes out composed.
    ("Vie\u0302\u0323t Nam", "Việt Nam"),
    ("Ho\u0302m nay tro\u031b\u0300i ma\u0306\u0301c", "Hôm nay trời mắc"),
    # Odd spaces become ordinary spaces, invisible characters disappear.
    ("Cao\u00a0Bằng", "Cao Bằng"),
    ("Cao\u200bBằng", "CaoBằng"),
    ("\ufeffTin tức", "Tin tức"),
    ("chuyên\u00admục", "chuyênmục"),
    ("a\u200c\u200db", "ab"),
    ("Nam\u2009Định\u202fmới", "Nam Định mới"),
    # Tabs and line breaks collapse with their neighbours into one space.
    ("dòng một\ndòng hai", "dòng một dòng hai"),
    ("cột\t\tcột", "cột cột"),
    ("a \r\n b", "a b"),
    ("a\u00a0 \u00a0b", "a b"),
    # Trimmed, including odd spaces at the ends.
    ("   Hà Nội   ", "Hà Nội"),
    ("\u00a0\n\tHải Phòng\u200b \n", "Hải Phòng"),
    # A zero-width space between two spaces must not leave a double space behind.
    ("một \u200b hai", "một hai"),
    # Control characters are dropped.
    ("a\x00b\x07c", "abc"),
    ("", ""),
    (None, ""),
    ("  \u00a0\u200b\n ", ""),
]


@pytest.mark.parametrize(("raw", "expected"), CLEAN)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


def test_clean_text_composes_nfd():
    raw = unicodedata.normalize("NFD", "Đoàn công tác Tỉnh ủy")
    assert raw != "Đoàn công tác Tỉnh ủy"  # the input really is decomposed
    out = clean_text(raw)
    assert out == "Đoàn công tác Tỉnh ủy"
    assert unicodedata.is_normalized("NFC", out)


# --- unescape_entities ---------------------------------------------------------------------------

ENTITIES = [
    ("H&ocirc;m nay", "Hôm nay"),
    ("Tr&ecirc;n đường v&agrave;o l&agrave;ng", "Trên đường vào làng"),
    ("Nh&agrave; m&aacute;y", "Nhà máy"),
    ("&#224;", "à"),
    ("v&#224;o", "vào"),
    ("v&#xE0;o", "vào"),
    # Double-encoded: `&amp;aacute;` -> `&aacute;` -> `á`.
    ("m&amp;aacute;y", "máy"),
    ("&amp;#224;", "à"),
    ("Cao&nbsp;Bằng", "Cao Bằng"),
    ("Bộ NN&amp;PTNT", "Bộ NN&PTNT"),
    ("không có thực thể", "không có thực thể"),
    ("", ""),
    (None, ""),
]


@pytest.mark.parametrize(("raw", "expected"), ENTITIES)
def test_unescape_entities(raw, expected):
    assert unescape_entities(raw) == expected


# --- bylines -------------------------------------------------------------------------------------

CREDIT_LINES = [
    "Tin, ảnh: P.Y",
    "Bài, ảnh: Minh Khôi",
    "Tin và ảnh: Lê Thảo",
    "Tin: Thu Hà - Ảnh: Đức Anh",
    "Theo TTXVN",
    "(Theo VTV)",
    "Ảnh: Đức Anh",
    "Bài và ảnh: Văn Huỳnh",
    "TIN, ẢNH: VĂN HUỲNH",
]

BARE_NAMES = ["Thế Hiển", "Ngọc Lan - Hoàng Hà", "MAI QUẾ", "P.Y", "Hữu Nghĩa"]

NOT_BYLINES = [
    "Theo Bộ NN&PTNT, năm nay sản lượng tăng.",
    "Quang cảnh buổi làm việc.",
    "Chiều 6/12, Đoàn công tác của Tỉnh ủy Hải Dương đến thăm và làm việc tại tỉnh Cao Bằng, "
    "hai bên trao đổi kinh nghiệm về phát triển kinh tế - xã hội trong thời gian qua.",
    "Theo kế hoạch, công trình sẽ hoàn thành vào cuối năm nay.",
    "",
]


@pytest.mark.parametrize("text", CREDIT_LINES)
@pytest.mark.parametrize("emphasized", [False, True])
def test_credit_lines_are_bylines(text, emphasized):
    assert is_credit_line(text)
    assert byline_of(text, emphasized=emphasized)


@pytest.mark.parametrize("text", BARE_NAMES)
def test_bare_names_need_emphasis(text):
    assert looks_like_name(text)
    assert not is_credit_line(text)
    assert byline_of(text, emphasized=True)
    assert not byline_of(text, emphasized=False)
    assert not byline_of(text)  # the default is not emphasized


@pytest.mark.parametrize("text", NOT_BYLINES)
@pytest.mark.parametrize("emphasized", [False, True])
def test_sentences_are_not_bylines(text, emphasized):
    assert not is_credit_line(text)
    assert not byline_of(text, emphasized=emphasized)


@pytest.mark.parametrize(
    "text",
    [
        "Quang cảnh buổi làm việc.",
        "Hôm nay trời đẹp",
        "Ai đến?",
        "Kết quả:",
        "Tin, ảnh:",  # a credit label with nothing after it is not a name either
    ],
)
def test_looks_like_name_rejects_sentences(text):
    assert not looks_like_name(text)


# --- related-article headings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cùng chuyên mục", True),
        ("Tin liên quan", True),
        ("Đọc thêm", True),
        ("TIN LIÊN QUAN", True),
        ("Tin liên quan:", True),
        ("  Xem thêm\u00a0", True),
        ("Tin cùng chuyên mục", True),
        ("Có thể bạn quan tâm", True),
        ("Đọc thêm về chương trình nông thôn mới tại Cao Bằng.", False),
        ("Các tin liên quan đến vụ việc đang được xác minh.", False),
        ("Hôm nay trời đẹp.", False),
        ("", False),
    ],
)
def test_is_related_heading(text, expected):
    assert is_related_heading(text) is expected


# --- clean_title ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Đoàn công tác thăm Cao Bằng - Báo Cao Bằng điện tử", "Đoàn công tác thăm Cao Bằng"),
        ("Khai mạc hội chợ | Báo Cần Thơ Online", "Khai mạc hội chợ"),
        ("Hà Nội - Hải Phòng nối chuyến tàu mới", "Hà Nội - Hải Phòng nối chuyến tàu mới"),
        ("Hà Nội - Hải Phòng nối chuyến tàu mới - Báo Nam Định", "Hà Nội - Hải Phòng nối chuyến tàu mới"),
        ("H&ocirc;m nay - B&aacute;o L&agrave;o Cai", "Hôm nay"),
        ("  Tiêu đề\u00a0có khoảng trắng  ", "Tiêu đề có khoảng trắng"),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_title(raw, expected):
    assert clean_title(raw) == expected


# --- tone marks and the matching form ------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("hoà", "hòa"),
        ("thuỷ", "thủy"),
        ("khoẻ", "khỏe"),
        ("Hoà Bình", "Hòa Bình"),
        ("HOÀ BÌNH", "HÒA BÌNH"),
        ("hoạ sĩ", "họa sĩ"),
        ("xoá bỏ", "xóa bỏ"),
        ("thuỷ lợi, hoà bình.", "thủy lợi, hòa bình."),
        # Already new style, or closed syllables / other vowels: unchanged.
        ("hòa", "hòa"),
        ("hoàng", "hoàng"),
        ("thuở", "thuở"),
        ("toàn", "toàn"),
        ("huệ", "huệ"),
        ("khuyến", "khuyến"),
        ("", ""),
    ],
)
def test_fold_tone_marks(old, new):
    out = fold_tone_marks(old)
    assert out == new
    assert unicodedata.is_normalized("NFC", out)


def test_fold_tone_marks_accepts_nfd():
    assert fold_tone_marks(unicodedata.normalize("NFD", "hoà")) == "hòa"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Hoà bình, thuỷ lợi!", "hòa bình thủy lợi"),
        ("HOÀ BÌNH", "hòa bình"),
        ("Sức khoẻ là vàng.", "sức khỏe là vàng"),
        ("“Cao Bằng” – miền núi", "cao bằng miền núi"),
        (unicodedata.normalize("NFD", "Việt Nam"), "việt nam"),
        ("Hà\u00a0Nội\n\tmới", "hà nội mới"),
    ],
)
def test_fold_for_matching_equal(a, b):
    assert fold_for_matching(a) == fold_for_matching(b)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hoà bình, thuỷ lợi!", "hòa bình thủy lợi"),
        ("TIN LIÊN QUAN", "tin liên quan"),
        ("  a -- b  ", "a b"),
        ("10,2%", "10 2"),
        ("Oà\u0300", "òa"),  # a stray combining mark is dropped like punctuation, then the tone folds
        ("", ""),
    ],
)
def test_fold_for_matching_value(raw, expected):
    assert fold_for_matching(raw) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("hoàng", "hòang"),  # the mark of a closed syllable is meaningful
        ("mua", "múa"),
        ("Hà Nội", "Hà Tĩnh"),
        ("thuở", "thủơ"),
    ],
)
def test_fold_for_matching_keeps_differences(a, b):
    assert fold_for_matching(a) != fold_for_matching(b)


# --- properties ----------------------------------------------------------------------------------

_VI = "aăâeêioôơuưyđAĂÂEÊIOÔƠUƯYĐàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
_NOISE = " \t\n\r\u00a0\u200b\u200c\u200d\ufeff\u00ad\u2009\u202f\u3000\u0300\u0301\u0303\u0309\u0323"
messy_text = st.one_of(
    st.text(alphabet=st.sampled_from(_VI + _NOISE + ".,:;!?-–“”()&"), max_size=60),
    st.text(max_size=60),
)


@given(messy_text)
@settings(max_examples=400)
def test_clean_text_shape(raw):
    out = clean_text(raw)
    assert unicodedata.is_normalized("NFC", out)
    assert "  " not in out
    assert out == out.strip(" ")
    for ch in ("\n", "\t", "\r", "\u00a0", "\u200b", "\ufeff", "\u00ad"):
        assert ch not in out


@given(messy_text)
@settings(max_examples=400)
def test_clean_text_idempotent(raw):
    once = clean_text(raw)
    assert clean_text(once) == once


@given(messy_text)
@example("Oà\u0300")  # a stray second tone mark: once folded differently on the second pass
@example("İ hoà")
@settings(max_examples=400)
def test_fold_for_matching_idempotent(raw):
    once = fold_for_matching(raw)
    assert fold_for_matching(once) == once


@given(st.text(alphabet=st.sampled_from(_VI + " ,.!"), max_size=40))
@settings(max_examples=200)
def test_fold_for_matching_ignores_tone_convention_and_case(raw):
    assert fold_for_matching(raw.upper()) == fold_for_matching(fold_tone_marks(raw).lower())
