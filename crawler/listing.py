"""The links of a listing page, read without keeping its tree.

`response.css("a::attr(href)")` would give the same list, but through a parsel tree of the whole page:
tens of MB of C memory for a listing page of a few thousand links (a big section, a backfill), which
Scrapy caches on the response in a reference cycle, so that it lives until the cyclic garbage
collector happens to run; a crawl's memory would grow with the size of its listing pages. Here
libxml2 parses the page exactly as parsel has it parsed (crawler.extract.page.parse_html: the same
text, the same parser options) but hands its elements to a parser target as they open, and only the
open ones are kept: the `href` of every `<a>`, in document order, and of every element the pagination
selectors match (matched against the open elements, crawler.extract.select). A selector that needs
more than its element's ancestors (`:last-child`, sibling combinators) is read from a full tree.
"""

from __future__ import annotations

from functools import cache

from lxml import etree
from parsel.csstranslator import css2xpath
from scrapy.http import HtmlResponse

from crawler.extract.page import html_bytes, parse_html
from crawler.extract.select import _Matcher, compile_css

_HREFS = etree.XPath("descendant-or-self::a/@href", smart_strings=False)


@cache
def _hrefs_of(css: str) -> etree.XPath:
    """`response.css(css).xpath("@href")` as one compiled XPath."""
    return etree.XPath(f"{css2xpath(css)}/@href", smart_strings=False)


def _on_open_elements(css: str) -> _Matcher | None:
    """The matcher of `css` when the element and its ancestors decide it, else None."""
    matcher = compile_css(css)
    if not isinstance(matcher, _Matcher) or matcher.pseudo or matcher.attr is not None:
        return None
    if any(part.first_child or part.last_child for part in matcher.parts):
        return None
    return matcher


class _Open:
    """An open element, as much of it as a selector reads: tag, attributes, parent."""

    __slots__ = ("attrib", "parent", "tag")

    def __init__(self, tag, attrib, parent):
        self.tag, self.attrib, self.parent = tag, attrib, parent

    def get(self, name, default=None):
        return self.attrib.get(name, default)

    def getparent(self):
        return self.parent

    def iterancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class _Links:
    """A parser target: hrefs of <a> elements, and of what each matcher matches."""

    def __init__(self, matchers: list[_Matcher]):
        self.matchers = matchers
        self.hrefs: list[str] = []
        self.matched: list[list[str]] = [[] for _ in matchers]
        self.top: _Open | None = None
        self.root: _Open | None = None
        self.outside = False

    def start(self, tag, attrib):
        node = _Open(tag, dict(attrib), self.top)
        if self.root is None:
            self.root = node
        elif self.top is None:
            self.outside = True  # after the document element closed: a second root no selector sees
        self.top = node
        href = node.attrib.get("href")
        if href is None or self.outside:
            return
        if tag == "a":
            self.hrefs.append(href)
        for matcher, found in zip(self.matchers, self.matched, strict=True):
            if matcher.parts[-1].matches(node) and matcher._chain(node, len(matcher.parts) - 1, self.root):
                found.append(href)

    def end(self, tag):
        if self.top is not None:
            self.top = self.top.parent

    def data(self, data):
        pass

    def close(self):
        return self


def listing_hrefs(response, selectors=()) -> tuple[list[str], list[list[str]]]:
    """`response.css("a::attr(href)").getall()`, and `response.css(css).xpath("@href").getall()` for
    each of `selectors`."""
    if not isinstance(response, HtmlResponse):  # parsel reads anything else as XML: leave it to parsel
        return (response.css("a::attr(href)").getall(),
                [response.css(css).xpath("@href").getall() for css in selectors])
    matchers = [_on_open_elements(css) for css in selectors]
    if any(m is None for m in matchers):
        root = parse_html(response.text, response.url)
        return _HREFS(root), [_hrefs_of(css)(root) for css in selectors]
    parser = etree.HTMLParser(recover=True, encoding="utf-8", huge_tree=True, target=_Links(matchers))
    links = etree.fromstring(html_bytes(response.text), parser=parser, base_url=response.url)
    return links.hrefs, links.matched
