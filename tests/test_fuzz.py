"""Property-based fuzzing (hypothesis) of the pure functions: extraction on random markup, bytes and
encodings; the rendered document; text normalization; date parsing; URL canonicalization.

Each property states an invariant the pipeline relies on. The product bugs found here are fixed and
kept below as regression tests.
"""

from __future__ import annotations

import html as htmllib
import re
import unicodedata
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.article import ARTICLE, NON_ARTICLE_KINDS, Article, Block
from crawler.canonical import TRACKING_PARAMS, canonical_url, url_id
from crawler.dates import VN, in_range, parse_any, parse_iso
from crawler.extract import ExtractionError, extract
from crawler.extract.page import decode_html
from crawler.faults import to_cp1258
from crawler.normalize import clean_text, fold_for_matching
from crawler.render import render_document

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(max_examples=200, deadline=None)

# --- strategies ----------------------------------------------------------------------------------

_VI_WORDS = ["Chiều", "nay", "Đoàn", "công", "tác", "tỉnh", "Điện", "Biên", "thăm", "và", "làm", "việc", "tại", "tỉnh", "ta", "Hội", "nghị", "thường", "niên", "khỏe", "thủy", "hòa", "hoà", "khoẻ", "thuỷ", "nông", "thôn", "mới", "chuyển", "đổi", "số", "Tin", "ảnh", "Văn", "Huỳnh", "Theo", "TTXVN", "Quang", "cảnh", "buổi", "làm", "việc", "Ngày", "24/11/2022", "14:30", "Thứ", "Năm,", "05/03/2025", "-", "10:15", "GMT+7", "tháng", "3", "năm", "2024", "Bài", "và", "ảnh:", "Ngọc", "Lan"]
_ODD = ["\u00a0", "\u200b", "\ufeff", "\u00ad", "\t", "\n", "\r\n", "  ", "\u2009", "\u3000", "\x07", "\u202e"]
_ENTITIES = ["&amp;", "&nbsp;", "&#224;", "&aacute;", "&lt;", "&gt;", "&quot;", "&#x1EA1;", "&amp;aacute;"]


def _nfd_some(word: str, flip: bool) -> str:
    return unicodedata.normalize("NFD", word) if flip else word


vi_word = st.builds(_nfd_some, st.sampled_from(_VI_WORDS), st.booleans())
text_piece = st.one_of(
    vi_word,
    vi_word,
    st.sampled_from(_ODD),
    st.sampled_from(_ENTITIES),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6),
)
vi_text = st.lists(text_piece, max_size=12).map(lambda parts: " ".join(parts))

_CLASSES = [
    "content", "detail", "content-detail", "detail-title", "detail-desc", "sapo", "author", "date", "title",
    "singular-content", "b-maincontent", "entry", "article__meta", "pseudonym", "caption", "tags", "related",
    "share", "fig", "c-detail-head", "time_detail", "title_detail", "content-article", "wp-caption-text",
]
_STYLES = ["text-align:right", "text-align: center", "font-weight:bold", "font-weight: 700", "display:none"]
attrs = st.dictionaries(
    st.sampled_from(["class", "id", "style", "align", "itemprop", "data-src"]),
    st.one_of(st.sampled_from(_CLASSES), st.sampled_from(_STYLES), vi_text),
    max_size=2,
)
_INLINE = ["span", "strong", "em", "b", "i", "a"]
_BLOCK = ["p", "div", "figure", "figcaption", "table", "tr", "td", "h1", "h2", "blockquote", "section", "article"]


def _attrs(a: dict) -> str:
    return "".join(f' {k}="{htmllib.escape(v, quote=True)}"' for k, v in a.items())


leaf = st.one_of(
    vi_text.map(htmllib.escape),
    vi_text,  # unescaped: raw `<`, `&` and stray markup characters
    st.just("<br>"),
    st.just("<br/>"),
    st.builds(lambda a, s: f'<img{_attrs(a)} src="/anh/{abs(hash(s)) % 97}.jpg" alt="{htmllib.escape(s)}">', attrs, vi_text),
    st.builds(lambda s: f"<script>var x = '{s}'; if (a < b) {{}}</script>", vi_text),
    st.builds(lambda s: f"<!-- {s} -->", vi_text),
)


def _element(tag: str, a: dict, children: list[str]) -> str:
    return f"<{tag}{_attrs(a)}>" + "".join(children) + f"</{tag}>"


tree = st.recursive(
    leaf,
    lambda kids: st.builds(_element, st.sampled_from(_BLOCK + _INLINE + ["script"]), attrs, st.lists(kids, max_size=5)),
    max_leaves=30,
)

_DATES = [
    "2024-03-05T10:15:00+07:00", "2022-11-24", "1/28/2026 6:52:01 AM", "Fri, 02 Jan 2026 08:00:00 +0700",
    "Thứ Năm, 05/03/2025 - 10:15", "99/99/9999", "0001-01-01T00:00:00Z", "2999-12-31", "hôm qua", "",
]
meta_tags = st.lists(
    st.one_of(
        st.builds(lambda v: f'<meta property="og:title" content="{htmllib.escape(v)}">', vi_text),
        st.builds(lambda v: f'<meta name="description" content="{htmllib.escape(v)}">', vi_text),
        st.builds(lambda v: f'<meta property="article:published_time" content="{v}">', st.sampled_from(_DATES)),
        st.builds(lambda v: f'<meta name="keywords" content="{htmllib.escape(v)}">', vi_text),
        st.builds(lambda v: f'<link rel="canonical" href="{v}">', st.sampled_from(
            ["https://baocantho.com.vn/a-a1.html", "https://example.org/x", "/relative-a2.html", "javascript:0"])),
        st.builds(lambda v: f'<script type="application/ld+json">{{"@type":"NewsArticle","headline":"{v}",'
                            f'"datePublished":"2024-01-02T03:04:05+07:00"}}</script>', vi_text),
        st.just('<meta charset="utf-8">'),
        st.just('<meta charset="windows-1258">'),
    ),
    max_size=5,
)


@st.composite
def pages(draw) -> str:
    body = "".join(draw(st.lists(tree, max_size=6)))
    doc = (
        "<!DOCTYPE html><html><head>" + "".join(draw(meta_tags))
        + f"<title>{htmllib.escape(draw(vi_text))}</title></head><body>{body}</body></html>"
    )
    cut = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=len(doc))))
    return doc if cut is None else doc[:cut]  # sometimes truncated anywhere, mid-tag included


def _encode(doc: str, how: str) -> str | bytes:
    if how == "str":
        return doc
    if how == "cp1258":
        return to_cp1258(doc)
    if how == "utf-16":
        return doc.encode("utf-16")
    if how in ("latin-1", "windows-1252"):
        return doc.encode(how, "xmlcharrefreplace")
    return doc.encode("utf-8")


ENCODINGS = ["str", "utf-8", "cp1258", "utf-16", "latin-1", "windows-1252"]
URLS = [
    "https://baocantho.com.vn/khai-mac-hoi-cho-a197488.html",  # F4
    "https://baocaobang.vn/doan-cong-tac-3174068.html",  # F6
    "https://baolaocai.vn/tin-moi-post405698.html",  # F1
    "https://baonamdinh.vn/channel/5085/202211/doan-cong-tac-2525931/",  # F3
    "https://baodanang.vn/tin-123456.html",  # F2
    "https://baobinhduong.vn/tin-a12345.html",  # F5
    "https://phuyen.baodaklak.vn/1/2/tin-tuc/",  # own
    "https://baocantho.com.vn/kinh-te/",  # a registry listing page
    "https://example.org/tin-tuc/bai-1.html",  # unknown site
]

# --- extraction ----------------------------------------------------------------------------------


def _single_line(value: str, what: str) -> None:
    assert unicodedata.is_normalized("NFC", value), (what, value)
    assert "\n" not in value and "\r" not in value, (what, value)
    assert value == value.strip(), (what, value)


_LMT_OFFSET = re.compile(r"[+-]\d\d:\d\d:\d\d$")


def check_article(art: Article) -> None:
    for name in ("title", "sapo", "author", "category"):
        _single_line(getattr(art, name), name)
    for tag in art.tags:
        assert tag, art.tags
        _single_line(tag, "tag")
    for block in art.blocks:
        assert block.text, art.blocks
        _single_line(block.text, f"block {block.kind}")
    for image in art.images:
        _single_line(image.caption, "caption")
    assert art.page_kind in (ARTICLE, *NON_ARTICLE_KINDS), art.page_kind
    if art.published_at:
        parsed = parse_iso(art.published_at)
        assert parsed is not None and parsed.iso() == art.published_at, art.published_at
        assert in_range(parsed), art.published_at
    check_document(render_document(art))


def check_document(doc: str) -> None:
    assert not doc.endswith("\n") and "\n\n\n" not in doc, doc
    for block in doc.split("\n\n") if doc else []:
        assert block and "\n" not in block, doc


def extract_or_no_html(url: str, data: str | bytes, **kw) -> Article | None:
    try:
        return extract(url, data, **kw)
    except ExtractionError:
        text = decode_html(data, kw.get("encoding"))
        assert not text.strip() or "<" not in text, "ExtractionError on a page with markup"
        return None


@FUZZ
@given(pages(), st.sampled_from(ENCODINGS), st.sampled_from(URLS), st.booleans())
def test_extract_random_pages(doc, how, url, families):
    art = extract_or_no_html(url, _encode(doc, how), use_families=families)
    if art is not None:
        check_article(art)


@FUZZ
@given(st.binary(max_size=2000), st.sampled_from(URLS), st.sampled_from([None, "utf-8", "windows-1258", "bogus"]))
def test_extract_random_bytes(data, url, encoding):
    art = extract_or_no_html(url, data, encoding=encoding)
    if art is not None:
        check_article(art)


@FUZZ
@given(st.binary(max_size=400), pages(), st.sampled_from(URLS))
def test_extract_page_with_garbage_bytes_spliced_in(garbage, doc, url):
    data = doc.encode("utf-8")
    at = len(data) // 2
    art = extract_or_no_html(url, data[:at] + garbage + data[at:])
    if art is not None:
        check_article(art)


@FUZZ
@given(st.text(max_size=300), st.sampled_from(URLS))
def test_extract_random_text(text, url):
    art = extract_or_no_html(url, text)
    if art is not None:
        check_article(art)


# --- the rendered document -----------------------------------------------------------------------

any_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
mixed_text = st.one_of(any_text, vi_text)


@QUICK
@given(
    mixed_text, mixed_text, st.lists(st.tuples(st.sampled_from(["p", "caption"]), mixed_text), max_size=6),
    mixed_text, st.sampled_from(["", "2024-03-05T10:15:00+07:00", "2022-11-24", "2024"]),
    st.sampled_from(["day", "month", "none"]), st.booleans(), st.sampled_from(["", "Cần Thơ"]),
)
def test_render_document_shape(title, sapo, blocks, author, published, precision, source, short):
    art = Article(url="https://baocantho.com.vn/x-a1.html", title=title, sapo=sapo, author=author,
                  blocks=[Block(k, t) for k, t in blocks], published_at=published)
    check_document(render_document(art, date_precision=precision, source_line=source, short_name=short))


# --- normalization -------------------------------------------------------------------------------

# Odd and invisible spaces, controls, Unicode line separators.
_NOT_IN_CLEAN = re.compile("[\u2028\u2029\x85\u00a0\u1680\u2000-\u200f\u202f\u205f\u3000\t\r\n\f\v\ufeff\u00ad\x00-\x08\x0e-\x1f\x7f]")


@QUICK
@given(st.one_of(any_text, vi_text, st.text(max_size=60)))
def test_clean_text_invariants(text):
    once = clean_text(text)
    assert clean_text(once) == once
    assert unicodedata.is_normalized("NFC", once)
    assert not _NOT_IN_CLEAN.search(once), repr(once)
    assert "  " not in once and once == once.strip(" ")


@QUICK
@given(st.one_of(any_text, vi_text, st.text(max_size=60)))
def test_fold_for_matching_idempotent(text):
    once = fold_for_matching(text)
    assert fold_for_matching(once) == once
    assert fold_for_matching(unicodedata.normalize("NFD", text)) == fold_for_matching(text)


# --- dates ---------------------------------------------------------------------------------------

# News dates: 1990..2100 (parsers return None outside it; see the regression tests below).
datetimes = st.datetimes(min_value=datetime(1912, 1, 1), max_value=datetime(2100, 12, 31))


def _formats(d: datetime) -> list[str]:
    return [
        d.strftime("%d/%m/%Y %H:%M"), d.strftime("%Y-%m-%dT%H:%M:%S"), d.strftime("%Y-%m-%dT%H:%M:%S+07:00"),
        d.strftime("%Y-%m-%d"), d.strftime("%d-%m-%Y"), f"{d.day} tháng {d.month} năm {d.year}",
        d.strftime("%a, %d %b %Y %H:%M:%S +0000"), d.strftime("Thứ Hai, %d/%m/%Y - %H:%M:%S (GMT+7)"),
        d.strftime("%-m/%-d/%Y %-I:%M:%S %p"), d.strftime("%Y-%m-%d %H:%M:%S.123456Z"),
    ]


date_text = st.one_of(
    st.builds(lambda d, i: _formats(d)[i], datetimes, st.integers(0, 9)),
    st.builds(lambda d, i, pre, post: pre + _formats(d)[i] + post, datetimes, st.integers(0, 9), vi_text, vi_text),
    st.text(alphabet="0123456789/-:.,+ TZSACHPMGMTtháng năm ngày[]()", max_size=40),
    st.text(max_size=40),
)


def check_parsed(text: str) -> None:
    p = parse_any(text)
    if p is None:
        return
    assert p.value.tzinfo is not None and p.value.tzinfo.key == VN.key, (text, p)
    again = parse_iso(p.iso())
    assert again == p, (text, p.iso(), again)


@QUICK
@given(date_text)
def test_parse_any_never_raises_and_iso_round_trips(text):
    check_parsed(text)


@QUICK
# One day inside 1990..2100 at both ends, so that any offset still lands in range in VN time.
@given(st.datetimes(min_value=datetime(1990, 1, 2), max_value=datetime(2100, 12, 30)),
       st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m))))
def test_parse_iso_round_trips_any_offset(d, tz):
    text = d.replace(microsecond=0, tzinfo=tz).isoformat()
    p = parse_iso(text)
    assert p is not None and p.value == d.replace(microsecond=0, tzinfo=tz)
    assert parse_iso(p.iso()) == p


# --- URLs ----------------------------------------------------------------------------------------

_SEG = st.text(alphabet=st.sampled_from("abcxyz0189-_.~éàđ%"), min_size=1, max_size=10)
_VI_SEG = st.sampled_from(["tin-tức", "thời-sự", "Đường tỉnh", "hòa bình", "khỏe"]).flatmap(
    lambda s: st.sampled_from([s, unicodedata.normalize("NFD", s), s.replace(" ", "%20")])
)
_HOSTS = ["baocaobang.vn", "baocantho.com.vn", "baolaocai.vn", "baonamdinh.vn", "example.org", "tin.example.org"]
_KEYS = st.sampled_from(["q", "page", "id", "p", "cat"])


@st.composite
def article_urls(draw) -> tuple[str, str, str, str]:
    host = draw(st.sampled_from(_HOSTS))
    segs = draw(st.lists(st.one_of(_SEG, _VI_SEG), min_size=1, max_size=4))
    path = "/" + "/".join(segs) + draw(st.sampled_from([".html", ".htm", "/", ""]))
    query = "&".join(f"{k}={v}" for k, v in draw(st.lists(st.tuples(_KEYS, st.sampled_from(["1", "a", "đ"])),
                                                         max_size=2, unique_by=lambda kv: kv[0])))
    return host, path, query, draw(st.sampled_from(list(TRACKING_PARAMS)))


@QUICK
@given(article_urls(), st.sampled_from(["http", "https"]), st.sampled_from(["", "www.", "m."]),
       st.sampled_from(["", "#top", "#"]))
def test_canonical_url_idempotent(parts, scheme, prefix, fragment):
    host, path, query, _ = parts
    url = f"{scheme}://{prefix}{host}{path}" + (f"?{query}" if query else "") + fragment
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert once.startswith("https://") and "#" not in once


@QUICK
@given(article_urls(), st.sampled_from(["http", "https"]), st.sampled_from(["", "www.", "m.", "WWW."]),
       st.booleans(), st.sampled_from(["", "#top", "#"]), st.booleans())
def test_url_id_stable_across_variants(parts, scheme, prefix, tracking, fragment, slash):
    host, path, query, param = parts
    base = f"https://{host}{path}" + (f"?{query}" if query else "")
    q = "&".join(x for x in (query, f"{param}=x" if tracking else "") if x)
    variant_path = path + "/" if slash and path.endswith((".html", ".htm")) else path
    variant = f"{scheme}://{prefix}{host.upper() if prefix.isupper() else host}{variant_path}" + (f"?{q}" if q else "") + fragment
    assert url_id(variant) == url_id(base), (base, variant)


# --- bugs the properties above found, fixed; kept as regression tests ----------------------------

_PAGE = (
    '<!DOCTYPE html><html><head>{head}<title>Khai mạc Hội chợ sản phẩm OCOP</title></head><body>'
    '<h1>Khai mạc Hội chợ sản phẩm OCOP</h1><div class="content">'
    "<p>Sáng nay, Hội chợ sản phẩm OCOP và đặc sản vùng miền năm 2026 khai mạc tại thành phố Cần Thơ.</p>"
    "<p>Hội chợ có hơn 200 gian hàng của các tỉnh, thành trong cả nước, kéo dài đến hết ngày 25.</p>"
    "</div></body></html>"
)
_URL = "https://example.org/tin-tuc/khai-mac-hoi-cho-1.html"


def test_bug_extract_keeps_out_of_range_published_at():
    head = '<meta property="article:published_time" content="2999-12-31T10:00:00+07:00">'
    art = extract(_URL, _PAGE.format(head=head))
    assert art.published_at == "" or in_range(parse_iso(art.published_at))


@pytest.mark.parametrize("text", ["1900-01-01T00:00:00+07:00", "0001-01-01T00:00:00Z", "01/01/1911 00:00"])
def test_bug_pre_1990_dates_are_rejected_not_shifted_to_lmt(text):
    # Before 1911 the zone database gives Asia/Ho_Chi_Minh LMT +07:06:30, whose iso() no parser reads back.
    assert parse_any(text) is None


@pytest.mark.parametrize(("text", "expected"), [("1/1/1911", "1911-01-01"), ("01/01/1911 00:00", "1911-01-01T00:00")])
def test_bug_dateparser_fallback_shifts_lmt_dates(text, expected):
    p = parse_any(text)
    assert p is None or p.iso().startswith(expected)


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85"])
def test_bug_clean_text_keeps_unicode_line_separators(sep):
    assert clean_text(f"dòng một{sep}dòng hai") == "dòng một dòng hai"
    doc = render_document(Article(url=_URL, title="Tiêu đề", sapo=f"dòng một{sep}dòng hai"))
    assert len(doc.splitlines()) == len(doc.split("\n"))


@pytest.mark.parametrize(("meta", "header"), [("utf-16be", None), ("cp037", None), ("utf-8", "cp500")])
def test_bug_ascii_incompatible_charset_label_loses_the_page(meta, header):
    data = _PAGE.format(head=f'<meta charset="{meta}">').encode("utf-8")
    data += b" " * (len(data) % 2)  # even length: decodes as UTF-16 without an error
    art = extract(_URL, data, encoding=header)
    assert art.title == "Khai mạc Hội chợ sản phẩm OCOP"


def test_bug_utf8_page_with_a_latin1_header_becomes_mojibake():
    art = extract(_URL, _PAGE.format(head='<meta charset="utf-8">').encode("utf-8"), encoding="iso-8859-1")
    assert art.title == "Khai mạc Hội chợ sản phẩm OCOP"


def test_bug_vietnamese_challenge_page_is_an_article():
    from crawler.faults import CHALLENGE_VI

    art = extract("https://baocantho.com.vn/khai-mac-hoi-cho-a197488.html", CHALLENGE_VI.format(host="baocantho.com.vn"))
    assert art.page_kind != ARTICLE
