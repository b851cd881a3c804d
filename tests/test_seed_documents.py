"""The two seed documents, reproduced from replica pages in their papers' templates.

The baocaobang replica carries the first seed's text (with each caption in an image's alt text and
in its caption, as the live page does); the output writes each caption once. The baonamdinh replica
carries the second seed's text; with month precision and no source line it renders to the seed
byte for byte.
"""

from pathlib import Path

from crawler.extract import extract
from crawler.render import render_document
from tests.conftest import SEEDS, require_shared

REPO = Path(__file__).resolve().parent.parent
CAOBANG_URL = "https://baocaobang.vn/doan-cong-tac-tinh-uy-hai-duong-tham-va-lam-viec-tai-cao-bang-3174068.html"
NAMDINH_URL = "https://baonamdinh.vn/channel/5085/202211/doan-cong-tac-tinh-dien-bien-tham-va-lam-viec-tai-tinh-ta-2525931/"


def mirror_page(url: str) -> bytes:
    from crawler.fixtures import mirror_articles

    (item,) = [i for i in mirror_articles(REPO) if i["url"] == url]
    return Path(item["file"]).read_bytes()


def seed(name: str) -> str:
    return require_shared(SEEDS / name).read_text(encoding="utf-8")


def captions_once(text: str) -> str:
    """The seed with each block repeated right after itself written once (its doubled captions)."""
    blocks = text.split("\n\n")
    return "\n\n".join(b for i, b in enumerate(blocks) if i == 0 or b != blocks[i - 1])


def test_first_seed_from_baocaobang_replica():
    expected = captions_once(seed("000_0b223214f044495e.txt"))
    assert expected.count("\n\n") == seed("000_0b223214f044495e.txt").count("\n\n") - 2  # two captions
    art = extract(CAOBANG_URL, mirror_page(CAOBANG_URL))
    assert render_document(art, date_precision="none", short_name="Cao Bằng") == expected
    # At the default day precision the same document gains the date prefix of the page's date.
    assert render_document(art, short_name="Cao Bằng") == " date 2024-12-06 " + expected


def test_second_seed_from_baonamdinh_replica():
    expected = seed("002_abb2803c39f8e69f.txt")
    art = extract(NAMDINH_URL, mirror_page(NAMDINH_URL))
    assert render_document(art, date_precision="month", source_line=False) == expected
    assert expected.encode("utf-8") == render_document(art, date_precision="month", source_line=False).encode()
