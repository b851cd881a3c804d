"""Decoding and parsing one HTML page, once, for every extraction path."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urljoin

from bs4.dammit import UnicodeDammit
from parsel import Selector

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


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
    if isinstance(body, str):
        return body
    candidates = [e for e in (declared_encoding,) if e]
    match = _META_CHARSET.search(body[:4096])
    if match:
        candidates.append(match.group(1).decode("ascii", "ignore"))
    for encoding in filter(None, map(_usable, candidates)):
        if encoding in _SINGLE_BYTE_WESTERN and not body.isascii():
            try:
                return body.decode("utf-8")
            except UnicodeDecodeError:
                pass
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    dammit = UnicodeDammit(body, ["utf-8", "windows-1258", "windows-1252"], is_html=True)
    return dammit.unicode_markup if dammit.unicode_markup is not None else body.decode("utf-8", "replace")


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


_CSS_RULE = re.compile(r"([^{}]{1,200})\{([^}]{0,500})\}")
_CLASS_NAME = re.compile(r"^\s*\.([A-Za-z][\w-]{0,40})\s*$", re.M)
_EMPHASIS = re.compile(r"text-align\s*:\s*right|font-weight\s*:\s*(?:bold|[6-9]00)", re.I)


@dataclass
class Page:
    url: str
    html: str

    @cached_property
    def markup(self) -> str:
        """The HTML as every parser of the page reads it (premature document end tags removed)."""
        return _without_document_ends(self.html) if self.html else "<html></html>"

    @cached_property
    def sel(self) -> Selector:
        # parsel parses with lxml's HTML parser; huge_tree so that very long pages still parse.
        return Selector(text=self.markup, base_url=self.url, huge_tree=True)

    @cached_property
    def base_url(self) -> str:
        base = self.sel.css("base::attr(href)").get()
        return urljoin(self.url, base.strip()) if base else self.url

    @cached_property
    def emphasis_classes(self) -> tuple[str, ...]:
        """Selectors of classes that the page's own <style> makes bold or right-aligned: bylines
        are often styled this way (`.t1{text-align:right}` on baolaocai) rather than inline."""
        found = []
        for css in self.sel.xpath("//style/text()").getall()[:20]:
            for names, body in _CSS_RULE.findall(css[:200_000]):
                if _EMPHASIS.search(body):
                    found += [n for n in _CLASS_NAME.findall(names)]
        return tuple(dict.fromkeys(f".{n}" for n in found))

    def absolute(self, link: str) -> str:
        return urljoin(self.base_url, link.strip())

    def first(self, selectors: list[str] | tuple[str, ...]) -> tuple[Selector | None, str]:
        """The first element matched by the first selector that matches something with text."""
        for css in selectors:
            for node in self.sel.css(css):
                if isinstance(node.root, str) or "".join(node.root.itertext()).strip() or node.root.tag == "meta":
                    return node, css
        return None, ""
