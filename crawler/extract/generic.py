"""The generic path: fields for pages no family claims, or that a family selector missed.

The body comes from trafilatura (the best-scoring well-kept main-content extractor), used to
*locate* the article element; that element is then walked in the original DOM like a family body,
which restores what trafilatura drops on Vietnamese pages: captions in place, the bold or
right-aligned byline at the end, the lede. Dates add the visible time of day that metadata often
lacks (JSON-LD `datePublished: "2026-01-08"`).
"""

from __future__ import annotations

import re
from collections import Counter

import trafilatura
from lxml import etree
from lxml.etree import _Element

from crawler.dates import ParsedDate, parse_any
from crawler.extract.metadata import Metadata
from crawler.extract.page import Page
from crawler.normalize import clean_text, clean_title

_DATE_HOLDERS = (
    "//*[contains(@class,'date') or contains(@class,'time') or contains(@id,'date') or contains(@class,'pubdate')]"
)
_TRAFILATURA_OPTIONS = dict(
    output_format="xml", include_comments=False, include_tables=False, include_images=False,
    include_formatting=False, with_metadata=False, deduplicate=False,
)


def generic_title(page: Page, meta: Metadata) -> str:
    h1s = [clean_text("".join(h.root.itertext())) for h in page.sel.css("h1")]
    h1s = [h for h in h1s if len(h) > 10]
    if meta.title:
        # Prefer the <h1> that the og:title starts with (og:title may carry a site suffix).
        for h in h1s:
            if meta.title.startswith(h) or h.startswith(meta.title):
                return h
        return meta.title
    if h1s:
        return max(h1s, key=len)
    return clean_title(page.sel.css("title::text").get())


def generic_date(
    page: Page, meta: Metadata, values: list[tuple[str, str]], title: str = ""
) -> tuple[ParsedDate | None, str]:
    """The first parseable metadata date, with its time of day from the visible date when the
    metadata has none. Without any metadata date, only a visible date in the article's own header
    (near its <h1>) counts: dates elsewhere belong to related-article lists."""
    best: tuple[ParsedDate | None, str] = (None, "")
    for value, source in values:
        parsed = parse_any(value)
        if parsed:
            best = (parsed, source)
            break
    if best[0] is not None and best[0].has_time:
        return best
    if best[0] is not None:
        scope = page.sel.root
    else:
        scope = _header_of(page, title)
        if scope is None:
            return best
    for node in scope.xpath("." + _DATE_HOLDERS)[:40]:
        raw = clean_text(" ".join(node.itertext()))
        if not raw or len(raw) > 80:
            continue
        parsed = parse_any(raw)
        if parsed and parsed.has_time and (best[0] is None or parsed.value.date() == best[0].value.date()):
            return parsed, "generic:visible"
    return best


def _header_of(page: Page, title: str):
    """The few levels of markup around the article's <h1>, where its own date is printed."""
    for h1 in page.sel.root.iter("h1"):
        if title and clean_text(" ".join(h1.itertext())) == title:
            node = h1
            for _ in range(2):
                if node.getparent() is not None:
                    node = node.getparent()
            return node
    return None


_WS = re.compile(r"\s+")


def _key(text: str) -> str:
    return _WS.sub(" ", text).strip()[:60]


def locate_body(page: Page) -> _Element | None:
    """The DOM element holding the paragraphs trafilatura judged to be the article.

    Trafilatura returns text, not nodes; the element is the lowest ancestor shared by most of the
    DOM paragraphs whose text starts like trafilatura's paragraphs.
    """
    xml = trafilatura.extract(page.html, url=page.url, **_TRAFILATURA_OPTIONS)
    if not xml:
        return None
    doc = etree.fromstring(xml.encode("utf-8"))
    wanted = {_key(t) for p in doc.iter("p") if len(t := "".join(p.itertext()).strip()) > 40}
    if not wanted:
        return None
    root = page.sel.root
    hits = [
        el for el in root.iter("p", "div", "td", "li")
        if (t := (el.text or "").strip() or "".join(el.itertext()).strip()) and _key(t) in wanted
    ]
    if not hits:
        return None
    # Count, for each ancestor, how many hits it holds; take the deepest one holding most of them.
    counts: Counter = Counter()
    depth: dict = {}
    for el in hits:
        node = el.getparent()
        chain = []
        while node is not None:
            chain.append(node)
            node = node.getparent()
        for i, anc in enumerate(chain):
            counts[anc] += 1
            depth[anc] = len(chain) - i
    need = max(1, int(len(hits) * 0.8))
    candidates = [a for a, c in counts.items() if c >= need]
    return max(candidates, key=lambda a: depth[a]) if candidates else None


_LEDE_HOLDERS = (
    "//*[contains(@class,'sapo') or contains(@class,'desc') or contains(@class,'lead') or "
    "contains(@class,'summary') or contains(@class,'intro') or contains(@class,'chapeau')]"
)


def generic_sapo(page: Page, meta: Metadata) -> str:
    """The lede printed apart from the body: an element of a lede-like class whose text is the
    page's description (so the description is shown on the page, not only in metadata)."""
    if not meta.description:
        return ""
    for node in page.sel.xpath(_LEDE_HOLDERS)[:30]:
        text = clean_text(" ".join(node.root.itertext()))
        if text and (text == meta.description or (len(text) > 60 and meta.description.startswith(text[:60]))):
            return text
    return ""
