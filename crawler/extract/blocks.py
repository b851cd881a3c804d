"""From an article's body element to ordered text blocks (paragraphs, captions) and images.

The walk keeps the page order, turns `<br>` into block breaks, never reads `alt`/`title`
attributes (they repeat captions and titles), and records the layout hints that tell a byline
or a lede from a paragraph: whole-bold, italic, right-aligned, centred, right after an image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

from lxml.etree import _Element

from crawler.article import CAPTION, PARAGRAPH, Image
from crawler.extract.select import PageIndex
from crawler.normalize import clean_text, is_related_heading

BLOCK_TAGS = frozenset(
    ["p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "blockquote", "figure", "figcaption", "table", "tbody", "thead", "tfoot", "tr", "td", "th", "section", "article", "header", "footer", "main", "pre", "dl", "dt", "dd", "center", "address", "hr"]
)
SKIP_TAGS = frozenset(
    ["script", "style", "noscript", "iframe", "form", "button", "input", "select", "textarea", "svg", "canvas", "audio", "video", "object", "embed", "template", "label", "nav", "aside", "link", "meta", "source", "picture"]
)
# Ads, share bars, players and related boxes common to the CMSs in the registry.
COMMON_DROP = (
    "[class*=share]", "[class*=social]", "[class*=related]", "[class*=relate]", "[id*=ads]", "[class*=ads-]",
    "[class*=advert]", "[class*=banner]", ".rennab", "[id^=sdaWeb_]", ".sda_middle", "[class^=AMN_]",
    "[class*=print]", "[class*=comment]", ".tags", ".tag", "[class*=audio]", "[class*=player]",
)
COMMON_CAPTIONS = (
    "figcaption", "td.desc", ".caption", ".image-caption", ".PhotoCMS_Caption", ".imgcaption", ".wp-caption-text",
)
_RIGHT = re.compile(r"text-align\s*:\s*right", re.I)
_CENTER = re.compile(r"text-align\s*:\s*center", re.I)
_BOLD_STYLE = re.compile(r"font-weight\s*:\s*(?:bold|[6-9]00)", re.I)
_IMG_ATTRS = ("data-src", "data-original", "data-lazy-src", "src")
# Class names of byline holders inside a body (`div.author` on baotayninh, `p.author` on baoangiang).
_BYLINE_CLASS = re.compile(r"^(?:author|byline|pseudonym|tac-?gia)(?:[-_]?name)?$", re.I)


@dataclass
class RawBlock:
    kind: str
    text: str
    bold: bool = False
    italic: bool = False
    right: bool = False
    centered: bool = False
    after_image: bool = False
    byline_class: bool = False  # inside an element whose class names it a byline (`div.author`)


def select_all(root: _Element, selectors) -> set[_Element]:
    """Every element under `root` (itself included) that one of the CSS selectors finds."""
    return PageIndex(root).select_all(selectors)


def _text_upto(el: _Element, limit: int) -> str | None:
    """The stripped text of `el` (its own text, else all of it), or None as soon as it is known to be longer
    than `limit`: a related-box heading is short, and joining the text of every large container is not."""
    own = (el.text or "").strip()
    if own:
        return own if len(own) <= limit else None
    parts: list[str] = []
    size = 0
    for piece in el.itertext():
        parts.append(piece)
        size += len(piece)
        # More than `limit` characters once stripped so far: the whole text, stripped, is longer still.
        if size > limit and len("".join(parts).strip()) > limit:
            return None
    return "".join(parts).strip()


def _related_boxes(root: _Element) -> set[_Element]:
    """Related-article boxes found by their heading text (`Tin liên quan`, `Đọc thêm`...)."""
    boxes: set[_Element] = set()
    for el in root.iter():
        if not isinstance(el.tag, str) or el is root:
            continue
        text = _text_upto(el, 40)
        if text is None or not is_related_heading(text):
            continue
        node = el
        while node.getparent() is not None and node.getparent() is not root:
            node = node.getparent()
        if node is not el:
            boxes.add(node)
        else:  # a bare heading at the top level: the links after it belong to the box
            boxes.add(el)
            for sib in el.itersiblings():
                if sib.tag in ("p",) and not sib.findall(".//a"):
                    break
                boxes.add(sib)
    return boxes


class _Walker:
    def __init__(self, root: _Element, base_url, drop: set, captions: set, right_marks: set):
        self.root, self.base_url = root, base_url
        self.drop, self.captions, self.right_marks = drop, captions, right_marks
        self.blocks: list[RawBlock] = []
        self.images: list[Image] = []
        self.buf: list[tuple[str, bool, bool]] = []
        # Layout of the enclosing block elements, (right, centred, byline), each entry OR-ed with the one
        # below it: a block's layout is known without walking its ancestors again.
        self.ctx: list[tuple[bool, bool, bool]] = [self._own_layout(root, root.get("style"))]
        self.after_image = False

    def _own_layout(self, el: _Element, style: str | None) -> tuple[bool, bool, bool]:
        byline = el is not self.root and any(_BYLINE_CLASS.match(c) for c in (el.get("class") or "").split())
        style = style or ""
        align = (el.get("align") or "").lower()
        right = el in self.right_marks or bool(_RIGHT.search(style)) or align == "right"
        centered = bool(_CENTER.search(style)) or align == "center" or el.tag == "center"
        return right, centered, byline

    def _push(self, el: _Element, style: str | None) -> None:
        (r, c, b), (r2, c2, b2) = self.ctx[-1], self._own_layout(el, style)
        self.ctx.append((r or r2, c or c2, b or b2))

    def _layout(self) -> tuple[bool, bool, bool]:
        return self.ctx[-1]

    def flush(self) -> None:
        if not self.buf:
            return
        buf, self.buf = self.buf, []
        text = clean_text("".join([t for t, _, _ in buf]))
        if not text:
            return
        visible = [(b, i) for t, b, i in buf if t.strip()]
        right, centered, byline = self._layout()
        bold = all(b for b, _ in visible)
        italic = all(i for _, i in visible)
        block = RawBlock(PARAGRAPH, text, bold, italic, right, centered, self.after_image, byline)
        # A short centred or italic line right under an image is its caption (baocantho prints them so).
        if self.after_image and (centered or italic) and len(text) < 400:
            block.kind = CAPTION
            self._caption_last_image(text)
        self.blocks.append(block)
        self.after_image = False

    def _caption_last_image(self, text: str) -> None:
        if self.images and not self.images[-1].caption:
            self.images[-1].caption = text

    def image(self, el: _Element) -> None:
        for attr in _IMG_ATTRS:
            src = (el.get(attr) or "").strip()
            if src and not src.startswith("data:"):
                self.images.append(Image(url=urljoin(self.base_url, src)))
                self.after_image = True
                return

    def walk(self, el: _Element, bold: bool, italic: bool) -> None:
        tag = el.tag
        if not isinstance(tag, str) or tag in SKIP_TAGS or el in self.drop:
            return
        if el in self.captions:
            self.flush()
            text = clean_text("".join(el.itertext()))
            if text:
                self.blocks.append(RawBlock(CAPTION, text))
                self._caption_last_image(text)
            self.after_image = False
            return
        if tag == "img":
            self.image(el)
            return
        if tag == "br":
            self.flush()
            return
        style = el.get("style")
        is_block = tag in BLOCK_TAGS
        if is_block:
            self.flush()
            self._push(el, style)
        bold = bold or tag in ("strong", "b") or bool(style and _BOLD_STYLE.search(style))
        italic = italic or tag in ("em", "i")
        text = el.text
        if text:
            self.buf.append((text, bold, italic))
        for child in el:
            self.walk(child, bold, italic)
            tail = child.tail
            if tail:
                self.buf.append((tail, bold, italic))
        if is_block:
            self.flush()
            self.ctx.pop()


def body_blocks(
    root: _Element,
    base_url: str,
    *,
    drop=(),
    captions=(),
    right_marks=(),
    drop_nodes=(),
    index: PageIndex | None = None,
) -> tuple[list[RawBlock], list[Image]]:
    """Blocks and images of one body element, in page order (`drop_nodes`: elements left out as well;
    `index`: the page's, when the caller has it)."""
    index = index or PageIndex(root)
    dropped = index.select_all((*COMMON_DROP, *drop), root) | _related_boxes(root) | set(drop_nodes)
    walker = _Walker(
        root,
        base_url,
        drop=dropped,
        captions=index.select_all((*COMMON_CAPTIONS, *captions), root),
        right_marks=index.select_all(right_marks, root),
    )
    walker.walk(root, False, False)
    walker.flush()
    return walker.blocks, walker.images
