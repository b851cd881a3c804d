"""The generic path: fields for pages no family claims, or that a family selector missed.

The body comes from trafilatura (the best-scoring well-kept main-content extractor), used to
*locate* the article element; that element is then walked in the original DOM like a family body,
which restores what trafilatura drops on Vietnamese pages: captions in place, the bold or
right-aligned byline at the end, the lede. Dates add the visible time of day that metadata often
lacks (JSON-LD `datePublished: "2026-01-08"`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

from lxml import etree
from lxml.etree import _Element

from crawler.dates import ParsedDate, parse_any
from crawler.extract.metadata import Metadata
from crawler.extract.page import Page
from crawler.extract.select import within
from crawler.normalize import clean_text, clean_title

# The position of an element in document order, as PageIndex counts it (elements before it: its ancestors
# and the elements of XPath's preceding axis).
_POSITION = etree.XPath("count(ancestor::*) + count(preceding::*)")
_TRAFILATURA_OPTIONS = dict(
    output_format="xml", include_comments=False, include_tables=False, include_images=False,
    include_formatting=False, with_metadata=False, deduplicate=False,
)


def _date_holders(page: Page) -> list[tuple[_Element, int]]:
    """Elements whose class mentions a date or time, or whose id a date, in document order, with their
    position (from the page's index: one pass, not a scan of every element per question)."""
    return [(el, pos) for el, cls, ident, pos in page.index.attributed
            if "date" in cls or "time" in cls or "date" in ident or "pubdate" in cls]


def generic_title(page: Page, meta: Metadata) -> str:
    # Parts of a title printed in several spans (hanoimoi: "Phường X:" + "Mong sớm…") are words apart.
    h1s = [clean_text(" ".join(h.itertext())) for h in page.root.iter("h1")]
    h1s = [h for h in h1s if len(h) > 10]
    if meta.title:
        # Prefer the <h1> that the og:title starts with (og:title may carry a site suffix).
        for h in h1s:
            if meta.title.startswith(h) or h.startswith(meta.title):
                return h
        return meta.title
    if h1s:
        return max(h1s, key=len)
    return clean_title(page.title_text or None)


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
        holders = [el for el, _ in _date_holders(page)[:40]]
    else:
        holders = _header_date_holders(page, title)
    for node in holders:
        raw = clean_text(" ".join(node.itertext()))
        if not raw or len(raw) > 80:
            continue
        parsed = parse_any(raw)
        if parsed and parsed.has_time and (best[0] is None or parsed.value.date() == best[0].value.date()):
            return parsed, "generic:visible"
    return best


def _title_h1(page: Page, title: str):
    for h1 in page.root.iter("h1"):
        if title and clean_text(" ".join(h1.itertext())) == title:
            return h1
    return None


def _header_date_holders(page: Page, title: str) -> list:
    """Date holders of the article's own header: those within two levels around its <h1>, then those printed
    before it, nearest first, within four more levels (a header bar above a title block, phuyen.baodaklak).
    Dates after the title further away belong to related-article lists."""
    h1 = _title_h1(page, title)
    if h1 is None:
        return []
    ancestors_all = list(h1.iterancestors())
    ancestors = ancestors_all[:6]
    if len(ancestors) < 2:
        return []
    holders = _date_holders(page)
    found = [el for el, _ in holders if el is not ancestors[1] and within(el, ancestors[1])][:40]
    # XPath's preceding::* of the <h1>: before it in document order, and not one of its ancestors.
    h1_pos = int(_POSITION(h1))
    preceding = [el for el, pos in holders if pos < h1_pos and el not in found and el not in ancestors_all]
    for scope in ancestors[2:]:
        inside = [el for el in preceding if any(a is scope for a in el.iterancestors())]
        found += [el for el in reversed(inside) if el not in found][:40]
    return found


_AUTHOR_HOLDERS = ".//*[contains(@class,'author') or contains(@class,'byline')]"


def generic_author(page: Page, title: str) -> str:
    """A byline printed in the article's header, next to its <h1> (`span.sc-longform-header-author`)."""
    h1 = _title_h1(page, title)
    ancestors = list(h1.iterancestors())[:2] if h1 is not None else []
    for node in ancestors[-1].xpath(_AUTHOR_HOLDERS)[:5] if ancestors else []:
        text = clean_text(" ".join(node.itertext()))
        if 2 <= len(text) <= 80 and parse_any(text) is None:
            return text
    return ""


def header_nodes(body: _Element, page: Page, title: str) -> list[_Element]:
    """When a located body also holds the article's <h1>, its header (category, title, byline and date line,
    lede) is the body's child that holds the <h1>, and what precedes it: they are not body text."""
    h1 = _title_h1(page, title)
    if h1 is None:
        return []
    node = h1
    while node is not None and node.getparent() is not body:
        node = node.getparent()
    if node is None:
        return []  # the <h1> is outside the body
    return [node, *node.itersiblings(preceding=True)]


_WS = re.compile(r"\s+")


def _key(text: str) -> str:
    # NFC: trafilatura's output is composed even where the page's text is decomposed (NFD).
    return unicodedata.normalize("NFC", _WS.sub(" ", text).strip())[:60]


def locate_body(page: Page) -> _Element | None:
    """The DOM element holding the paragraphs trafilatura judged to be the article.

    Trafilatura returns text, not nodes; the element is the lowest ancestor shared by most of the
    DOM paragraphs whose text starts like trafilatura's paragraphs.
    """
    import trafilatura  # the generic path only: the family path never loads it

    xml = trafilatura.extract(page.markup, url=page.url, **_TRAFILATURA_OPTIONS)
    if not xml:
        return None
    doc = etree.fromstring(xml.encode("utf-8"))
    wanted = {_key(t) for p in doc.iter("p") if len(t := "".join(p.itertext()).strip()) > 40}
    if not wanted:
        return None
    root = page.root
    hits = [
        (el, key) for el in root.iter("p", "div", "td", "li")
        if (t := (el.text or "").strip() or "".join(el.itertext()).strip()) and (key := _key(t)) in wanted
    ]
    if not hits:
        return None
    # For each ancestor, the distinct paragraphs it holds; take the deepest one holding most of them. Distinct,
    # so that a paragraph printed twice (a lede repeated in a side column) does not pull the body outwards.
    held: dict = defaultdict(set)
    depth: dict = {}
    for el, key in hits:
        chain = list(el.iterancestors())
        for i, anc in enumerate(chain):
            held[anc].add(key)
            depth[anc] = len(chain) - i
    need = max(1, int(len({key for _, key in hits}) * 0.8))
    candidates = [a for a, keys in held.items() if len(keys) >= need]
    return max(candidates, key=lambda a: depth[a]) if candidates else None


_SENTENCE_END = re.compile(r"[.!?…:;)\]\"'”»]$")
_LEDE_WORDS = ("sapo", "desc", "lead", "summary", "intro", "chapeau")  # in the class attribute


def generic_sapo(page: Page, meta: Metadata) -> str:
    """The lede printed apart from the body: an element of a lede-like class whose text is the
    page's description (so the description is shown on the page, not only in metadata)."""
    if not meta.description:
        return ""
    found = []
    holders = [el for el, cls, _, _ in page.index.attributed if any(w in cls for w in _LEDE_WORDS)]
    for node in holders[:30]:
        text = clean_text(" ".join(node.itertext()))
        if text and (text == meta.description or (len(text) > 60 and meta.description.startswith(text[:60]))):
            found.append(text)
    # A holder cut mid-word is a machine copy of the description (baotayninh prints one before the real lede).
    if found:
        return next((t for t in found if _SENTENCE_END.search(t)), found[0])
    # Else a paragraph of any class printing exactly the description (phuyen.baodaklak: `p.reply`).
    for node in page.root.iter("p", "h2", "h3", "h4"):
        if clean_text(" ".join(node.itertext())) == meta.description:
            return meta.description
    return ""
