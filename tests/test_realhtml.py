"""Extraction of the real saved pages in ../shared/realhtml (present in CI).

Expected values were read off the pages by hand; paragraphs are pinned by their first characters,
length and SHA-256 so that no real text is copied into this repository.
"""

import hashlib
import json
import re
from pathlib import Path

import pytest

from crawler.extract import extract
from tests.conftest import REALHTML, require_shared


def pinned(text: str) -> tuple[str, int, str]:
    return text[:30], len(text), hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# Expected values per page (file, title, published_at, author, first paragraph = the lede, last paragraph,
# paragraph and caption counts, a note on what the page shows), shared with the quality gate.
EXPECTED = json.loads((Path(__file__).with_name("realhtml_expected.json")).read_text(encoding="utf-8"))
CORE_PAGES = [
    (r["file"], r["title"], r["published_at"], r["author"], tuple(r["first"]), tuple(r["last"]),
     r["paragraphs"], r["captions"])
    for r in EXPECTED
]

# file -> (first body paragraph after the lede, captions in page order, category), read off the pages by hand.
BODY_DETAIL = {
    "baocantho.com.vn/article_a196670.html": (
        ("Ông Trương Cảnh Tuyên, Phó Bí ", 212, "9547c677d990ace5"),
        [("Chủ tịch UBND TP Cần Thơ Trươn", 95, "96e23cdae888e1a6")],
        "Cần Thơ",
    ),
    "baolaocai.vn/article_post404649.html": (
        ("Từ nhiệm vụ chuyên môn quân sự", 292, "6ed91cdc983faebb"), [], "Review Lào Cai"
    ),
    "baoangiang.com.vn/article_a367201.html": (
        ("Tôi hay có thói quen ngoáy tai", 212, "e39434fc1fb284c2"), [], "Bác sĩ của bạn"
    ),
    "baodanang.vn/article_3318952.html": (("Theo đó, thành phố kéo dài thờ", 284, "d15528b655290880"), [], "Y tế"),
    "baohaiphong.vn/article_457674.html": (
        ("Trong đó có 45 mẫu của nhân vi", 450, "bac961931a37d47e"), [], "Y tế - Sức khỏe"
    ),
    "baonghean.vn/article_10264116.html": (
        ("1. Prebiotic là gì?", 19, "d64c27b2d7b2cfed"),
        [("Thực phẩm giàu chất xơ giúp nu", 77, "807ffbdaf44c150b"), ("Hành, tỏi chứa prebiotic tự nh", 34, "dc9222aba6571027")],
        "Sức khỏe",
    ),
    "baotayninh.vn/article_88701.html": (
        ("Cần có phương án dự phòng", 25, "36f83ab6e3796610"),
        [("Biện pháp phòng dịch quan trọn", 97, "1185d7de290d540b")],
        "Y tế sức khỏe",
    ),
    "hanoimoi.vn/article_731520.html": (
        ("Theo ghi nhận thực tế, toàn bộ", 513, "d722ddffe2d9c67b"),
        [("Khu đất tại số 94 phố Lò Đúc (", 76, "afdb1c17e32cb74c")],
        "Chống lãng phí",
    ),
    "phuyen.baodaklak.vn/article_112869.html": (
        ("Nguyễn Thị Kim Oanh", 19, "9dcc793ede5a2536"),
        [("Ảnh minh họa: Internet", 22, "d4d95e57fe281740")],
        "Sức khỏe",
    ),
}


def page_url(path: Path) -> str:
    source = path.with_suffix(".source.txt").read_text(encoding="utf-8")
    return re.search(r"original URL[^\n]*?(https?://\S+)", source).group(1)


@pytest.mark.realhtml
@pytest.mark.parametrize("generic_only", [False, True], ids=["family", "generic"])
@pytest.mark.parametrize("case", CORE_PAGES, ids=[c[0].split("/")[0] for c in CORE_PAGES])
def test_core_real_pages(case, generic_only):
    rel, title, published, author, first, last, n_paragraphs, n_captions = case
    path = require_shared(REALHTML / rel)
    art = extract(page_url(path), path.read_bytes(), use_families=not generic_only)
    assert art.page_kind == "article"
    assert art.title == title
    assert art.published_at == published
    assert pinned(art.sapo) == first
    assert pinned(art.paragraphs[-1]) == last
    if not generic_only:
        # The generic path is held to title, date and body (issue 3); the family path to everything.
        assert art.author == author
        assert len(art.paragraphs) == n_paragraphs
        assert len(art.captions) == n_captions
        assert all(s.startswith(("family", "site")) for k, s in art.field_sources.items() if k != "sapo")


@pytest.mark.realhtml
def test_category_page_is_not_an_article():
    path = require_shared(REALHTML / "baocantho.com.vn/category_thoi-su.html")
    art = extract("https://baocantho.com.vn/thoi-su/", path.read_bytes())
    assert art.page_kind == "listing"


@pytest.mark.realhtml
def test_alt_and_title_attributes_never_become_text():
    path = require_shared(REALHTML / "baocantho.com.vn/article_a196670.html")
    art = extract(page_url(path), path.read_bytes())
    # img@title repeats the article title on this CMS; it must not show up as a caption or paragraph.
    assert art.title not in [b.text for b in art.blocks]
    assert art.images and art.images[0].caption == art.captions[0]


@pytest.mark.realhtml
@pytest.mark.parametrize("rel", sorted(BODY_DETAIL), ids=[r.split("/")[0] for r in sorted(BODY_DETAIL)])
def test_real_page_body_in_order(rel):
    """Family path: the body opens with the right paragraph, each caption once in page order, the category;
    the generic path alone finds the same title, date, lede and body blocks."""
    first, captions, category = BODY_DETAIL[rel]
    path = require_shared(REALHTML / rel)
    art = extract(page_url(path), path.read_bytes())
    assert pinned(art.paragraphs[0]) == first
    assert [pinned(c) for c in art.captions] == captions
    assert art.category == category
    assert art.author not in art.paragraphs and art.sapo not in art.paragraphs
    generic = extract(page_url(path), path.read_bytes(), use_families=False)
    assert (generic.title, generic.published_at, generic.sapo) == (art.title, art.published_at, art.sapo)
    assert [(b.kind, b.text) for b in generic.blocks] == [(b.kind, b.text) for b in art.blocks]


@pytest.mark.realhtml
def test_archive_page_of_an_absorbed_paper_keeps_its_canonical_mapping():
    # Saved from phuyen.baodaklak.vn; its og:url is on the legacy baophuyen.vn domain.
    path = require_shared(REALHTML / "phuyen.baodaklak.vn/article_112869.html")
    assert page_url(path) == "https://baophuyen.vn/95/112869/thieu-mau/"
    for url in (page_url(path), "https://phuyen.baodaklak.vn/95/112869/thieu-mau/"):
        art = extract(url, path.read_bytes())
        assert art.site == "baophuyen"
        assert art.canonical_url == "https://phuyen.baodaklak.vn/95/112869/thieu-mau/"


@pytest.mark.realhtml
def test_premature_document_end_tag_does_not_empty_the_page():
    # baotayninh.vn prints "<html …>\n\n</html>" before <head>; libxml2 alone would see an empty document.
    path = require_shared(REALHTML / "baotayninh.vn/article_88701.html")
    assert path.read_text(encoding="utf-8").split("<head>")[0].count("</html>") == 1
    art = extract(page_url(path), path.read_bytes())
    assert art.page_kind == "article" and art.field_sources["body"] == "family:F5"
    assert art.images and art.images[0].caption == art.captions[0]


PAPER_OF = {
    "baoangiang.com.vn/article_a367201.html": ("baoangiang", "F4"),
    "baocantho.com.vn/article_a196670.html": ("baocantho", "F4"),
    "baodanang.vn/article_3318952.html": ("baodanang", "F2"),
    "baohaiphong.vn/article_457674.html": ("baohaiphong", "F2"),
    "baolaocai.vn/article_post404649.html": ("baolaocai", "F1"),
    "baonghean.vn/article_10264116.html": ("baonghean", "F2"),
    "baotayninh.vn/article_88701.html": ("baotayninh", "F5"),
    "hanoimoi.vn/article_731520.html": ("hanoimoi", "F2"),
    "phuyen.baodaklak.vn/article_112869.html": ("baophuyen", "own"),
}


@pytest.mark.realhtml
@pytest.mark.parametrize("rel", sorted(PAPER_OF), ids=[r.split("/")[0] for r in sorted(PAPER_OF)])
def test_real_page_belongs_to_its_registry_entry(rel):
    """Every saved real page is claimed by its paper, whose article_pattern matches the page's own canonical URL."""
    from crawler.registry import default_registry

    key, family = PAPER_OF[rel]
    path = require_shared(REALHTML / rel)
    site = default_registry().for_url(page_url(path))
    assert (site.key, site.family) == (key, family)
    assert site.is_article_url(page_url(path))
    art = extract(page_url(path), path.read_bytes())
    assert site.is_article_url(art.canonical_url) and art.canonical_url.startswith(f"https://{site.domain}/")
