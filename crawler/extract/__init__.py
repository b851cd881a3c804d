"""Extraction as a pure function: `extract(url, html) -> Article`, testable without Scrapy.

Per field, the paper's own selector override comes first, then its CMS family's selectors, then
the generic path. `Article.field_sources` records which one produced each field, and the crawl
stats count them, so a template change shows as a rising fallback count, not as empty fields.
"""

from __future__ import annotations

import re

from crawler.article import ARTICLE, CAPTION, PARAGRAPH, Article, Block
from crawler.canonical import canonical_url
from crawler.canonical import clear_caches as _clear_canonical
from crawler.dates import in_range, parse_any
from crawler.extract.blocks import RawBlock, body_blocks
from crawler.extract.families import FamilySpec, family_spec
from crawler.extract.generic import (
    generic_author,
    generic_date,
    generic_sapo,
    generic_title,
    header_nodes,
    locate_body,
)
from crawler.extract.metadata import read_metadata
from crawler.extract.page import Page, _emphasis_in, decode_page
from crawler.normalize import byline_of, clean_text, is_related_heading, unescape_entities
from crawler.registry import Registry, Site, default_registry

__all__ = ["ExtractionError", "clear_caches", "extract"]

_DATELINE = re.compile(r"^\([A-ZĐ][A-ZĐa-z.]{1,7}\)\s*[-–—]\s*")
# Bot-challenge and anti-DDoS interstitials served with 200 in place of the page.
_CHALLENGE = re.compile(
    r"just a moment|checking your browser|cf-browser-verification|attention required|ddos protection|"
    r"xác minh bạn không phải là robot|xác minh bạn là người|vui lòng bật javascript|captcha",
    re.I,
)
_NOT_FOUND = re.compile(
    r"không tồn tại|đã bị xóa|đã bị xoá|không tìm thấy|trang bạn tìm|404|page not found|lỗi truy cập", re.I
)
# One phrase of each alternative above, free of the letters that case-insensitive matching equates with
# others (i/ı/İ, s/ſ): if the lowered text holds none of them, neither pattern can match, and the (slow, on
# a long head of text) case-insensitive search is skipped.
_CHALLENGE_HINTS = ("t a moment", "your brow", "cf-brow", "attent", "ddo", "là robot", "bạn là ng", "bật ja", "captcha")
_NOT_FOUND_HINTS = ("không", "đã b", "trang bạn", "404", "page not found", "truy cập")


def _may_match(text: str, hints: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(h in lowered for h in hints)


_DATE_ONLY = re.compile(r"^[\w ,]*\d{1,2}[/-]\d{1,2}[/-]\d{4}[\s,|-]*(?:\d{1,2}:\d{2})?[^\w]*$")
_VIDEO_PATH = re.compile(r"/(?:video|videos|clip|truyen-hinh|short-video|podcast)s?(?:/|-)", re.I)


def clear_caches() -> None:
    """Forget what extraction memoises across pages (canonical URLs, style sheets' emphasis classes), so that
    a benchmark's repeated pass over the same pages measures each page from cold, as a crawl meets it."""
    _clear_canonical()
    _emphasis_in.cache_clear()


class ExtractionError(ValueError):
    """The page cannot be read at all (empty or not HTML)."""


class _Fields:
    """Selector lookup for one page: the site's overrides, then the family's."""

    def __init__(self, page: Page, site: Site | None, spec: FamilySpec | None, use_site: bool = True):
        self.page, self.spec = page, spec
        self.overrides = site.selectors if (site and use_site) else {}

    def candidates(self, field: str) -> list[tuple[str, str]]:
        out = []
        own = self.overrides.get(field, [])
        for css in [own] if isinstance(own, str) else own:
            out.append((css, "site"))
        if self.spec:
            out.extend((css, f"family:{self.spec.name}") for css in getattr(self.spec, field))
        return out

    def text(self, field: str) -> tuple[str, str]:
        for css, source in self.candidates(field):
            for node in self.page.select(css):
                value = unescape_entities(node) if isinstance(node, str) else clean_text(" ".join(node.itertext()))
                if value:
                    return value, source
        return "", ""

    def texts(self, field: str) -> tuple[list[str], str]:
        for css, source in self.candidates(field):
            values = [clean_text(" ".join(n.itertext())).lstrip("#").strip() for n in self.page.select(css)]
            values = list(dict.fromkeys(v for v in values if v))
            if values:
                return values, source
        return [], ""

    def empty_container(self, field: str) -> str:
        """The source of a list selector (`.topics a`) whose container is on the page but holds no link: the
        page says the list is empty (then its site-wide meta keywords are not the article's tags)."""
        for css, source in self.candidates(field):
            container, _, last = css.rpartition(" ")
            container = container.rstrip(" >")
            if container and last.split(".")[0].split("[")[0] == "a" and self.page.select(container):
                return source
        return ""

    def element(self, field: str):
        for css, source in self.candidates(field):
            for node in self.page.select(css):
                if not isinstance(node, str) and "".join(node.itertext()).strip():
                    return node, source
        return None, ""


def _dedupe_adjacent(blocks: list[RawBlock]) -> list[RawBlock]:
    out: list[RawBlock] = []
    for b in blocks:
        if out and out[-1].text == b.text:
            # alt text printed as a paragraph next to its caption: keep one, as a caption if either is.
            if b.kind == CAPTION:
                out[-1].kind = CAPTION
            continue
        out.append(b)
    return out


def _take_byline(blocks: list[RawBlock]) -> str:
    """The byline printed as the last body paragraph (`Tin, ảnh: P.Y`, a bold name, `Theo TTXVN`)."""
    for i in range(len(blocks) - 1, max(len(blocks) - 3, -1), -1):
        b = blocks[i]
        if b.kind != PARAGRAPH:
            continue
        if byline_of(b.text, emphasized=b.bold or b.right) or (b.byline_class and len(b.text) <= 80):
            del blocks[i]
            return b.text
        break
    return ""


def _take_lede(blocks: list[RawBlock], description: str = "") -> str:
    """The first body paragraph when it is printed as the lede: whole bold (and longer than a subheading),
    tagged with a dateline, or exactly the page's description (the CMS's lede field)."""
    if not blocks or blocks[0].kind != PARAGRAPH:
        return ""
    first = blocks[0]
    if (first.bold and len(first.text) >= 60) or _DATELINE.match(first.text) or first.text == description:
        return blocks.pop(0).text
    return ""


def _page_kind(art: Article, page: Page, site: Site | None, spec: FamilySpec | None, og_type: str) -> str:
    if site and not site.is_article_url(art.url) and art.field_sources.get("title") == "generic":
        return "listing"  # a section or home page of a known paper: no article URL, no article title
    if og_type.startswith("video"):
        return "video"
    paragraphs = [b for b in art.blocks if b.kind == PARAGRAPH]
    head_text = " ".join(b.text for b in art.blocks[:6])[:2000]
    head = f"{art.title} {page.title_text} {head_text}"
    if len(paragraphs) < 4 and _may_match(head, _CHALLENGE_HINTS) and _CHALLENGE.search(head):
        return "challenge"  # a bot check, not the article: the rerun fetches the page again
    titles = f"{art.title} {page.title_text}"
    if _may_match(titles, _NOT_FOUND_HINTS) and _NOT_FOUND.search(titles) \
            and (not paragraphs or art.field_sources.get("body") == "generic"):
        return "error"  # a "not found" page served with 200: no family body, a not-found title
    if len(paragraphs) < 2:
        video_marks = spec.video if spec else ("video",)
        if og_type.startswith("video") or _VIDEO_PATH.search(art.url) or page.index.select_all(video_marks):
            return "video"
    if not paragraphs and art.images:
        return "photo"
    if not art.title or (not paragraphs and not art.sapo):
        return "empty"
    return ARTICLE


def extract(
    url: str,
    html: str | bytes,
    *,
    registry: Registry | None = None,
    use_families: bool = True,
    encoding: str | None = None,
) -> Article:
    """One page to one Article. Never fetches anything; raises ExtractionError only for a page with no
    HTML at all (every other defect shows as empty fields and `page_kind`)."""
    text, from_utf8 = decode_page(html, encoding)
    if not text or not text.strip() or "<" not in text:
        raise ExtractionError(f"{url}: empty or not HTML")
    registry = registry or default_registry()
    page = Page(url, text, html if from_utf8 else None)
    site = registry.for_url(url)
    spec = family_spec(site.family) if (site and use_families) else None
    fields = _Fields(page, site, spec, use_site=use_families)
    meta = read_metadata(page)
    art = Article(url=url, site=site.key if site else "")
    src = art.field_sources

    # Title
    art.title, src["title"] = fields.text("title")
    if not art.title:
        art.title, src["title"] = generic_title(page, meta), "generic"

    # Dates: the family's visible date, completed by metadata when it lacks the time of day.
    published, src["published_at"] = None, ""
    raw_date, date_source = fields.text("date")
    if raw_date:
        published = parse_any(raw_date)
        src["published_at"] = date_source if published else ""
    if published is None or not published.has_time or published.value.second == 0:
        # Metadata completes a visible date: its time of day, or its seconds when both say the same minute.
        fallback, fb_source = generic_date(page, meta, meta.published, art.title)
        if fallback and published is not None and published.has_time:
            same_minute = fallback.has_time and fallback.value.replace(second=0) == published.value
            if same_minute and fallback.value.second:
                published, src["published_at"] = fallback, f"{date_source}+{fb_source}"
        elif fallback and (published is None or fallback.value.date() == published.value.date()):
            published, src["published_at"] = fallback, fb_source if published is None else f"{date_source}+{fb_source}"
    if published is not None and not in_range(published):
        published, src["published_at"] = None, ""  # a future or pre-1990 date is a parsing accident
    art.published_at = published.iso() if published else ""
    modified, _ = generic_date(page, meta, meta.modified, art.title) if meta.modified else (None, "")
    art.modified_at = modified.iso() if modified and modified.has_time else ""

    # Body
    body_el, src["body"] = fields.element("body")
    header: list = []
    if body_el is None:
        body_el, src["body"] = locate_body(page), "generic"
        header = header_nodes(body_el, page, art.title) if body_el is not None else []
    raw_blocks, images = [], []
    if body_el is not None:
        raw_blocks, images = body_blocks(
            body_el,
            page.base_url,
            drop=spec.drop if spec else (),
            captions=spec.captions if spec else (),
            right_marks=(*(spec.right_marks if spec else ()), *page.emphasis_classes),
            drop_nodes=header,
            index=page.index,
        )
    raw_blocks = _dedupe_adjacent([b for b in raw_blocks if not is_related_heading(b.text, cleaned=True)])

    # Byline: the family's element, else the last paragraph when it reads as one.
    art.author, src["author"] = fields.text("author")
    if art.author:
        if raw_blocks and raw_blocks[-1].text == art.author:
            raw_blocks.pop()
    else:
        art.author = _take_byline(raw_blocks)
        src["author"] = f"{src['body']}/byline" if art.author else ""
    if not art.author and spec is None:
        art.author = generic_author(page, art.title)
        src["author"] = "generic:header" if art.author else ""

    # Lede: the family's element; else, without a family, a lede-classed element printing the description
    # (stronger evidence than a bold first paragraph, which may be a subheading); else the body's first
    # paragraph when printed as a lede; else the lede-classed element after all.
    art.sapo, src["sapo"] = fields.text("sapo")
    if not art.sapo and spec is None:
        art.sapo = generic_sapo(page, meta)
        src["sapo"] = "generic" if art.sapo else ""
    if not art.sapo and (spec is None or spec.lede_in_body):
        art.sapo = _take_lede(raw_blocks, meta.description)
        src["sapo"] = "body:lede" if art.sapo else ""
    if not art.sapo:
        art.sapo = generic_sapo(page, meta)
        src["sapo"] = "generic" if art.sapo else ""
    if art.sapo and raw_blocks and raw_blocks[0].text == art.sapo:
        raw_blocks.pop(0)

    # A generic body region may hold the page's own header lines: title, category, date, and a machine copy of
    # the lede run on into the body (baotayninh prints one, cut mid-word, above the real lede).
    header_lines = {art.title, art.sapo, art.category}
    art.blocks = [
        Block(b.kind, b.text) for b in raw_blocks
        if b.text not in header_lines and not (len(b.text) < 40 and _DATE_ONLY.match(b.text))
        and not (len(art.sapo) >= 60 and b.text.startswith(art.sapo))
    ]
    art.images = images

    art.category, src["category"] = fields.text("category")
    if not art.category and meta.section:
        art.category, src["category"] = meta.section, "meta"
    art.tags, src["tags"] = fields.texts("tags")
    if not art.tags:
        src["tags"] = fields.empty_container("tags")
    if not art.tags and not src["tags"] and (meta.tags or meta.keywords):
        art.tags, src["tags"] = list(dict.fromkeys(meta.tags or meta.keywords)), "meta"

    # Canonical URL: the page's own canonical link when it names the same paper's article.
    declared = page.absolute(meta.canonical) if meta.canonical else ""
    same_paper = declared and registry.for_url(declared) is site and (site is None or site.is_article_url(declared))
    art.canonical_url = canonical_url(declared if same_paper else url, registry)

    art.field_sources = {k: v for k, v in src.items() if v}
    art.page_kind = _page_kind(art, page, site, spec, meta.og_type)
    return art
