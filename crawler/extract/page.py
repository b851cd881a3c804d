"""Decoding and parsing one HTML page, once, for every extraction path."""

from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass
from functools import cached_property, lru_cache
from urllib.parse import urljoin

from lxml import etree

from crawler.extract.select import PageIndex

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@lru_cache(maxsize=64)
def _usable(encoding: str) -> str | None:
    """The codec's name when it can label an HTML page: known and ASCII-compatible. Browsers ignore
    UTF-16/32 in <meta> and EBCDIC labels; trusting them turns a page into text without a '<'."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")) or "<p>".encode(name, "ignore") != b"<p>":
        return None
    return name


def decode_html(body: bytes | str, declared_encoding: str | None = None) -> str:
    """Bytes to text. Trust, in order: the HTTP header, the page's <meta charset>, then
    UnicodeDammit's detection; legacy Vietnamese pages come as windows-1258 with or without a label.

    Bytes that are valid UTF-8 with non-ASCII characters are UTF-8 whatever a Latin-1 label says:
    servers mislabel UTF-8 pages as iso-8859-1, and Vietnamese in a real single-byte encoding is
    practically never valid UTF-8."""
    return decode_page(body, declared_encoding)[0]


def decode_page(body: bytes | str, declared_encoding: str | None = None) -> tuple[str, bool]:
    """`decode_html`'s text, and whether it was decoded from UTF-8 bytes (then the bytes are its exact
    UTF-8 encoding, and libxml2 can be handed them without encoding the text again)."""
    if isinstance(body, str):
        return body, False
    for encoding in filter(None, map(_usable, _labels(body, declared_encoding))):
        if encoding in _SINGLE_BYTE_WESTERN and not body.isascii():
            try:
                return body.decode("utf-8"), True
            except UnicodeDecodeError:
                pass
        try:
            return body.decode(encoding), encoding == "utf-8"
        except UnicodeDecodeError:
            continue
    from bs4.dammit import UnicodeDammit  # only for pages that name no usable encoding

    dammit = UnicodeDammit(body, ["utf-8", "windows-1258", "windows-1252"], is_html=True)
    if dammit.unicode_markup is not None:
        return dammit.unicode_markup, False
    return body.decode("utf-8", "replace"), False


def _labels(body: bytes, declared_encoding: str | None):
    """The declared encoding, then the page's <meta charset> (looked for only if the declared one fails)."""
    if declared_encoding:
        yield declared_encoding
    match = _META_CHARSET.search(body[:4096])
    if match:
        yield match.group(1).decode("ascii", "ignore")


_SINGLE_BYTE_WESTERN = {"latin_1", "iso8859-1", "cp1252", "iso8859-15", "ascii"}


# End tags of the document element that some CMSs print too early: `<html …></html><head>…` (baotayninh.vn), or
# after an article body that is itself a whole HTML document. libxml2 ends the document at a premature `</html>`
# and puts everything after it in a second root that the CSS selectors never see; it needs none of them.
_DOCUMENT_END = re.compile(r"</(?:html|body)\s*>", re.IGNORECASE)
_TRAILER = re.compile(r"(?:\s|<!--.*?-->|</(?:html|body)\s*>)*", re.IGNORECASE | re.DOTALL)


def _without_document_ends(html: str) -> str:
    """The page without its `</html>`/`</body>` tags when one of them comes before more markup."""
    first = _DOCUMENT_END.search(html)
    if first is None or _TRAILER.fullmatch(html, first.start()):
        return html  # the usual page: the end tags close it
    return _DOCUMENT_END.sub("", html)


_CLASS_NAME = re.compile(r"^\s*\.([A-Za-z][\w-]{0,40})\s*$", re.M)
_EMPHASIS = re.compile(r"text-align\s*:\s*right|font-weight\s*:\s*(?:bold|[6-9]00)", re.I)
_NAMES_MAX, _BODY_MAX = 200, 500  # a rule's selector list and declarations, as long as they are read


def css_rules(css: str) -> list[tuple[str, str]]:
    r"""(selectors, declarations) of the style sheet's rules: exactly the matches of
    `re.findall(r"([^{}]{1,200})\{([^}]{0,500})\}", css)`, found from brace to brace. The regular expression
    retries from every character of a long brace-free run (a comment, a long rule), some milliseconds on a
    few-KB sheet; each of its matches is the longest brace-free run (200 characters at most, after the
    previous match) before a '{' whose '}' comes within 500 characters, so the braces alone locate them."""
    rules = []
    resume = 0  # the end of the previous match: the next one starts at or after it
    opening = css.find("{")
    while opening != -1:
        closing = css.find("}", opening + 1)
        if closing == -1:
            break  # no later '{' has a '}' either
        window = max(resume, opening - _NAMES_MAX)
        start = max(window, css.rfind("{", window, opening) + 1, css.rfind("}", window, opening) + 1)
        if start < opening and closing - opening - 1 <= _BODY_MAX:
            rules.append((css[start:opening], css[opening + 1:closing]))
            resume = closing + 1
            opening = css.find("{", resume)
        else:
            opening = css.find("{", opening + 1)
    return rules


@lru_cache(maxsize=256)
def _emphasis_in(css: str) -> tuple[str, ...]:
    """Class names whose rule in this style sheet makes them bold or right-aligned. Cached: a paper prints
    the same <style> blocks on every page."""
    if not _EMPHASIS.search(css):
        return ()  # no rule of the sheet can be one (most sheets)
    return tuple(n for names, body in css_rules(css) if _EMPHASIS.search(body) for n in _CLASS_NAME.findall(names))


_PARSERS = threading.local()
_TEXT = etree.XPath("text()", smart_strings=False)
# The elements read whole-page by tag (metadata, <base>, <title>, <style>): gathered in one pass.
HEAD_TAGS = ("meta", "link", "script", "base", "title", "style")


def html_bytes(markup: str) -> bytes:
    """The bytes parsel hands libxml2 for a page's text."""
    return markup.strip().replace("\x00", "").encode("utf-8") or b"<html/>"


def _utf8_as_parsel_has_it(markup: str, utf8: bytes) -> bytes | None:
    """`html_bytes(markup)` cut from the bytes `markup` was decoded from, when it is a slice of them: no NUL to
    remove, and only ASCII whitespace stripped (one byte a character), as a page's surrounding newlines are."""
    if "\x00" in markup:
        return None
    start, stop = len(markup) - len(markup.lstrip()), len(markup.rstrip())
    if start == stop or not (markup[:start].isascii() and markup[stop:].isascii()):
        return None
    return utf8[start:len(utf8) - (len(markup) - stop)]


def parse_html(markup: str, url: str | None = None, utf8: bytes | None = None) -> etree._Element:
    """The page's tree, built as parsel builds it (the same text clean-up and libxml2 options), with one
    parser per thread reused across pages, and plain lxml elements (lxml.html's element classes cost a
    Python-level lookup for every element visited). `utf8`: the UTF-8 bytes the markup was decoded from,
    sliced rather than the text encoded again."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)
    data = _utf8_as_parsel_has_it(markup, utf8) if utf8 is not None else None
    if data is None:
        data = html_bytes(markup)
    root = etree.fromstring(data, parser=parser, base_url=url)
    if root is None:
        root = etree.fromstring(b"<html/>", parser=parser, base_url=url)
    return root


@dataclass
class Page:
    """One page, parsed once; every extraction path (metadata, family selectors, generic, blocks) shares its
    tree and its index (`select`)."""

    url: str
    html: str
    utf8: bytes | None = None  # the UTF-8 bytes `html` was decoded from, if it was (`decode_page`)

    @cached_property
    def markup(self) -> str:
        """The HTML as every parser of the page reads it (premature document end tags removed)."""
        return _without_document_ends(self.html) if self.html else "<html></html>"

    @cached_property
    def root(self) -> etree._Element:
        markup = self.markup  # the page's own text (the same object) unless end tags were removed
        return parse_html(markup, self.url, self.utf8 if markup is self.html else None)

    @cached_property
    def index(self) -> PageIndex:
        return PageIndex(self.root)

    @cached_property
    def tagged(self) -> dict[str, list[etree._Element]]:
        """The page's HEAD_TAGS elements (wherever they are), by tag, in document order."""
        found: dict[str, list[etree._Element]] = {tag: [] for tag in HEAD_TAGS}
        for el in self.root.iter(*HEAD_TAGS):
            found[el.tag].append(el)
        return found

    def select(self, css: str) -> list:
        """Elements (or strings, for `::text` and `::attr(name)`) the CSS selector finds on the page."""
        return self.index.select(css)

    def select_first(self, css: str):
        found = self.select(css)
        return found[0] if found else None

    @cached_property
    def base_url(self) -> str:
        # The first <base href> (`base::attr(href)`).
        base = next((h for el in self.tagged["base"] if (h := el.get("href")) is not None), None)
        return urljoin(self.url, base.strip()) if base else self.url

    @cached_property
    def title_text(self) -> str:
        """The first text of the page's <title>, as printed (`title::text`)."""
        return next((t for el in self.tagged["title"] for t in _TEXT(el)), "")

    @cached_property
    def emphasis_classes(self) -> tuple[str, ...]:
        """Selectors of classes that the page's own <style> makes bold or right-aligned: bylines
        are often styled this way (`.t1{text-align:right}` on baolaocai) rather than inline."""
        texts = [t for el in self.tagged["style"] for t in _TEXT(el)][:20]  # `//style/text()`
        found = [n for css in texts for n in _emphasis_in(css[:200_000])]
        return tuple(dict.fromkeys(f".{n}" for n in found))

    def absolute(self, link: str) -> str:
        return urljoin(self.base_url, link.strip())
