"""crawler/render.py (seed-schema documents, content hash) and the Article record of crawler/article.py."""

import re

import pytest

from crawler.article import CAPTION, PARAGRAPH, Article, Block, Image
from crawler.render import content_hash, render_document, title_line

URL = "https://baocaobang.vn/doan-cong-tac-tinh-uy-hai-duong-tham-va-lam-viec-tai-cao-bang-3174068.html"
TITLE = "Đoàn công tác Tỉnh ủy Hải Dương thăm và làm việc tại Cao Bằng"
SAPO = "Chiều 6/12, Đoàn công tác của Tỉnh ủy Hải Dương đến thăm và làm việc tại tỉnh Cao Bằng."
P1 = "Tiếp và làm việc với đoàn công tác có các đồng chí lãnh đạo tỉnh."
CAP = "Quang cảnh buổi làm việc."
P2 = "Hai bên trao đổi kinh nghiệm về phát triển kinh tế - xã hội./."


def make_article(**overrides) -> Article:
    fields = dict(
        url="http://www.baocaobang.vn/doan-cong-tac-tinh-uy-hai-duong-tham-va-lam-viec-tai-cao-bang-3174068.html"
        "?utm_source=fb",
        canonical_url=URL,
        site="baocaobang",
        title=TITLE,
        sapo=SAPO,
        blocks=[Block(PARAGRAPH, P1), Block(CAPTION, CAP), Block(PARAGRAPH, P2)],
        author="Thế Hiển",
        published_at="2024-12-06T16:30:00+07:00",
    )
    fields.update(overrides)
    return Article(**fields)


# --- title_line ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("published_at", "precision", "expected"),
    [
        ("2024-12-06T16:30:00+07:00", "day", " date 2024-12-06 Tiêu đề"),
        ("2024-12-06T16:30:00+07:00", "month", " date 2024-12 Tiêu đề"),
        ("2024-12-06T16:30:00+07:00", "none", "Tiêu đề"),
        ("2022-11-24", "day", " date 2022-11-24 Tiêu đề"),
        ("2022-11-24", "month", " date 2022-11 Tiêu đề"),
        ("", "day", "Tiêu đề"),
        ("", "month", "Tiêu đề"),
        ("", "none", "Tiêu đề"),
    ],
)
def test_title_line(published_at, precision, expected):
    assert title_line("Tiêu đề", published_at, precision) == expected


def test_title_line_default_precision_is_day():
    assert title_line("T", "2025-03-05T09:30:00+07:00") == " date 2025-03-05 T"


@pytest.mark.parametrize("precision", ["year", "Day", "", "hour"])
def test_title_line_rejects_unknown_precision(precision):
    with pytest.raises(ValueError, match="precision"):
        title_line("T", "2025-03-05", precision)


# --- render_document -----------------------------------------------------------------------------


def test_render_document_full():
    doc = render_document(make_article(), short_name="Cao Bằng")
    assert doc == "\n\n".join(
        [
            f" date 2024-12-06 {TITLE}",
            SAPO,
            P1,
            CAP,
            P2,
            "Thế Hiển",
            f"Nguồn Cao Bằng: {URL}",
        ]
    )


def test_render_document_shape():
    doc = render_document(make_article(), short_name="Cao Bằng")
    assert not doc.endswith("\n")
    assert "\n\n\n" not in doc
    blocks = doc.split("\n\n")
    assert len(blocks) == 7
    for block in blocks:
        assert block.strip(), "no empty block"
        assert "\n" not in block
    # Every block but the title line (which may start with " date ") is trimmed.
    for block in blocks[1:]:
        assert block == block.strip()


@pytest.mark.parametrize(
    ("precision", "first_line"),
    [("day", f" date 2024-12-06 {TITLE}"), ("month", f" date 2024-12 {TITLE}"), ("none", TITLE)],
)
def test_render_document_date_precision(precision, first_line):
    doc = render_document(make_article(), date_precision=precision, short_name="Cao Bằng")
    assert doc.split("\n\n")[0] == first_line


def test_render_document_without_date():
    doc = render_document(make_article(published_at=""), short_name="Cao Bằng")
    assert doc.split("\n\n")[0] == TITLE


def test_render_document_omits_empty_sapo_and_author():
    doc = render_document(make_article(sapo="", author=""), short_name="Cao Bằng")
    assert doc.split("\n\n") == [f" date 2024-12-06 {TITLE}", P1, CAP, P2, f"Nguồn Cao Bằng: {URL}"]


def test_render_document_omits_whitespace_only_blocks():
    article = make_article(sapo=" \u00a0 ", author="\u200b", blocks=[Block(PARAGRAPH, P1), Block(PARAGRAPH, "  ")])
    doc = render_document(article, short_name="Cao Bằng")
    assert doc.split("\n\n") == [f" date 2024-12-06 {TITLE}", P1, f"Nguồn Cao Bằng: {URL}"]


def test_render_document_without_source_line():
    doc = render_document(make_article(), source_line=False, short_name="Cao Bằng")
    assert doc.split("\n\n") == [f" date 2024-12-06 {TITLE}", SAPO, P1, CAP, P2, "Thế Hiển"]
    assert "Nguồn" not in doc


def test_render_document_source_line_falls_back_to_host():
    article = make_article(
        url="https://example.org/tin-tuc/bai-viet-1.html", canonical_url="https://example.org/tin-tuc/bai-viet-1.html",
        site="",
    )
    doc = render_document(article)
    assert doc.split("\n\n")[-1] == "Nguồn example.org: https://example.org/tin-tuc/bai-viet-1.html"


def test_render_document_source_line_uses_url_without_canonical():
    article = make_article(url="https://example.org/a/b-2.html", canonical_url="")
    doc = render_document(article, short_name="Ví Dụ")
    assert doc.split("\n\n")[-1] == "Nguồn Ví Dụ: https://example.org/a/b-2.html"


def test_render_document_cleans_blocks():
    article = make_article(
        title="Tiêu\u00a0đề\nhai dòng",
        sapo="  Sapo\tcó tab ",
        blocks=[Block(PARAGRAPH, "Đoạn\nmột"), Block(CAPTION, "Chú\u200bthích")],
        author=" Minh Khôi ",
        published_at="",
    )
    doc = render_document(article, source_line=False)
    assert doc == "Tiêu đề hai dòng\n\nSapo có tab\n\nĐoạn một\n\nChúthích\n\nMinh Khôi"


@pytest.mark.parametrize("precision", ["year", ""])
def test_render_document_rejects_unknown_precision(precision):
    with pytest.raises(ValueError):
        render_document(make_article(), date_precision=precision)


# --- content_hash --------------------------------------------------------------------------------


def test_content_hash_shape():
    assert re.fullmatch(r"[0-9a-f]{32}", content_hash(make_article()))


@pytest.mark.parametrize(
    "overrides",
    [
        # Another author, URL, date or site: same content.
        {"author": "Tin, ảnh: Văn Huỳnh"},
        {"author": ""},
        {"url": "https://baocaobang.vn/khac-1.html", "canonical_url": "https://baocaobang.vn/khac-1.html"},
        {"published_at": "2025-01-01"},
        # Tone-mark convention, case and punctuation only.
        {"title": TITLE.upper()},
        {"title": TITLE + "!"},
        {"sapo": SAPO.replace(",", "").replace(".", "")},
        {"blocks": [Block(PARAGRAPH, P1.lower()), Block(CAPTION, CAP), Block(PARAGRAPH, P2)]},
    ],
)
def test_content_hash_ignores(overrides):
    assert content_hash(make_article(**overrides)) == content_hash(make_article())


def test_content_hash_tone_mark_convention():
    old = make_article(title="Hoà Bình: khai mạc hội nghị thuỷ lợi", sapo="Sức khoẻ cộng đồng.")
    new = make_article(title="Hòa Bình khai mạc hội nghị thủy lợi", sapo="sức khỏe cộng đồng")
    assert content_hash(old) == content_hash(new)


@pytest.mark.parametrize(
    "overrides",
    [
        {"title": "Đoàn công tác Tỉnh ủy Điện Biên thăm và làm việc tại Cao Bằng"},
        {"sapo": "Sáng 7/12, một đoàn khác đến thăm."},
        {"blocks": [Block(PARAGRAPH, P1), Block(PARAGRAPH, P2)]},  # a caption fewer
        {"blocks": [Block(PARAGRAPH, P1), Block(CAPTION, CAP), Block(PARAGRAPH, "Một đoạn hoàn toàn khác.")]},
        {"title": TITLE.replace("làm", "lam")},  # a real mark difference is not folded away
    ],
)
def test_content_hash_differs(overrides):
    assert content_hash(make_article(**overrides)) != content_hash(make_article())


# --- Article -------------------------------------------------------------------------------------


def test_article_round_trip():
    article = make_article(
        tags=["Hải Dương", "Cao Bằng"],
        images=[Image("https://baocaobang.vn/img/1.jpg", CAP), Image("https://baocaobang.vn/img/2.jpg")],
        category="Chính trị",
        field_sources={"title": "family:F6", "author": "generic"},
        id="0b223214f044495e",
        content_hash="a" * 32,
        text="document",
    )
    data = article.to_dict()
    assert data["blocks"][1] == {"kind": "caption", "text": CAP}
    assert data["images"][1] == {"url": "https://baocaobang.vn/img/2.jpg", "caption": ""}
    back = Article.from_dict(data)
    assert back == article
    assert isinstance(back.blocks[0], Block) and isinstance(back.images[0], Image)


def test_article_from_dict_ignores_unknown_keys_and_fills_defaults():
    back = Article.from_dict({"url": "https://example.org/a.html", "unknown": 1})
    assert back == Article(url="https://example.org/a.html")
    assert back.blocks == [] and back.images == [] and back.page_kind == "article"


def test_article_views():
    article = make_article()
    assert article.paragraphs == [P1, P2]
    assert article.captions == [CAP]
    assert article.body == f"{P1}\n\n{CAP}\n\n{P2}"
