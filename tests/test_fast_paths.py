"""The fast paths of issue 7 give what the straightforward code they replace gives.

Each fast path is checked against its reference, on the mirror's pages, the real saved pages and
generated text: the page index's CSS matcher against parsel's and lxml's XPath translation of the same
selectors; the parser-target link reader against `response.css`; the scheduler queue's compact
article requests against the requests the spider builds; the normalisation shortcuts against the
regular-expression forms; the near-duplicate index in batches against one pass.
"""

from __future__ import annotations

import random
import re
import sqlite3
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from lxml.cssselect import CSSSelector
from parsel import Selector
from scrapy import Request
from scrapy.http import HtmlResponse

from crawler import neardup
from crawler import normalize as N
from crawler.extract import _CHALLENGE, _CHALLENGE_HINTS, _NOT_FOUND, _NOT_FOUND_HINTS, _may_match
from crawler.extract.blocks import COMMON_CAPTIONS, COMMON_DROP
from crawler.extract.families import FAMILY_SPECS
from crawler.extract.page import Page, css_rules, decode_html, decode_page
from crawler.extract.select import _attr_ok, _Matcher, _plan, compile_css
from crawler.failures import CHALLENGE, CHALLENGE_HINTS
from crawler.listing import listing_hrefs
from crawler.registry import default_registry
from crawler.search import search_folded
from crawler.squeue import ArticleMemoryQueue
from tests.conftest import REALHTML, REPO

SITES = REPO / "mirror" / "sites"
PROPS = settings(max_examples=300, deadline=None)


def _pages() -> list[tuple[str, bytes]]:
    pages = [(f"https://{p.relative_to(SITES).parts[0]}/{p.name}", p.read_bytes())
             for p in sorted(SITES.glob("*/**/*.html"))]
    pages += [(f"https://{p.parent.name}/{p.name}", p.read_bytes()) for p in sorted(REALHTML.glob("*/*.html"))]
    return pages


def _project_selectors() -> set[str]:
    found = set(COMMON_DROP) | set(COMMON_CAPTIONS) | {"video"}
    for spec in FAMILY_SPECS.values():
        for name in ("title", "date", "sapo", "body", "author", "category", "tags", "drop", "captions",
                     "right_marks", "video", "pagination"):
            found.update(getattr(spec, name))
    for site in default_registry():
        for value in site.selectors.values():
            found.update([value] if isinstance(value, str) else value)
        if site.pagination:
            found.add(site.pagination)
    return found


# Constructs beyond the project's selectors: every branch of the matcher, and the XPath fallback.
EXTRA = ["a", "h1::text", "title::text", "div::text", "meta::attr(content)", "a::attr(href)", "div > p",
         "ul li:last-child a", "li:first-child", "[class~=tags]", "[id$=content]", "[class^=art]",
         "div[class*=detail] p", "#content-detail > h2", "p:nth-child(2)", "a:not(.tag)", "h1, h2",
         "div + p", "[class='']", "[class*='']"]


def _key(node) -> str:
    return node if isinstance(node, str) else node.getroottree().getpath(node)


@pytest.fixture(scope="module")
def pages():
    return _pages()


def test_every_project_selector_runs_on_the_index():
    """Not through the XPath fallback: the selectors of families and papers are the hot path."""
    slow = [css for css in _project_selectors() if not isinstance(compile_css(css), _Matcher)]
    assert slow == []


def test_index_selects_what_parsel_selects(pages):
    selectors = sorted(_project_selectors()) + EXTRA
    assert len(pages) > 300
    for url, html in pages:
        page = Page(url, decode_html(html))
        reference = Selector(text=page.markup, huge_tree=True)
        for css in selectors:
            want = [_key(n.root) for n in reference.css(css)]
            assert [_key(n) for n in page.select(css)] == want, (url, css)


def test_index_selects_in_a_subtree_what_lxml_selects(pages):
    """select_all under an element (the body's drop lists) is lxml's CSSSelector from that element."""
    selectors = sorted(set(COMMON_DROP) | set(COMMON_CAPTIONS) | {c for s in FAMILY_SPECS.values() for c in s.drop})
    checked = 0
    for url, html in pages[::3]:
        page = Page(url, decode_html(html))
        for scope in page.root.iter("div", "article", "td"):
            want = set()
            for css in selectors:
                want.update(CSSSelector(css)(scope))
            assert page.index.select_all(selectors, scope) == want, url
            checked += 1
    assert checked > 1000


def test_listing_links_are_those_of_response_css(pages):
    selectors = [*sorted({c for s in FAMILY_SPECS.values() for c in s.pagination}), "ul li:last-child a", "a"]
    rng = random.Random(3)
    bodies = [html for _, html in pages] + [b"", b"<p>x", b"<a href=1>x</a></html><a href=2>y</a>"]
    bodies += [html[:cut] + html[cut + 100:] for html in bodies[:200] for cut in [rng.randrange(len(html) or 1)]]
    for body in bodies:
        response = HtmlResponse("https://baolaocai.vn/x/", body=body, encoding="utf-8")
        want = (response.css("a::attr(href)").getall(), [response.css(c).xpath("@href").getall() for c in selectors])
        fresh = HtmlResponse("https://baolaocai.vn/x/", body=body, encoding="utf-8")
        assert listing_hrefs(fresh, selectors) == want


def test_a_listing_page_leaves_no_tree_behind():
    """No parsel selector is cached on the response: that one and the response refer to each other, and
    its tree would live until the cyclic garbage collector runs."""
    body = (SITES / "baolaocai.vn" / "index.html").read_bytes()
    response = HtmlResponse("https://baolaocai.vn/", body=body, encoding="utf-8")
    hrefs, _ = listing_hrefs(response, (".pagination a[href]",))
    assert hrefs and response._cached_selector is None
    response.css("a")
    assert response._cached_selector is not None


# --- the scheduler's memory queue ----------------------------------------------------------------------

class _Crawler:
    def __init__(self, spider):
        self.spider = spider


def _spider():
    from scrapy.utils.test import get_crawler

    from spiders import registry

    cls = registry.BaolaocaiSpider
    crawler = get_crawler(cls)
    return cls.from_crawler(crawler)


def _as_dict(request: Request) -> dict:
    return {"url": request.url, "method": request.method, "headers": dict(request.headers), "body": request.body,
            "meta": request.meta, "priority": request.priority, "callback": request.callback,
            "errback": request.errback, "dont_filter": request.dont_filter, "flags": request.flags,
            "cb_kwargs": request.cb_kwargs, "cookies": request.cookies, "encoding": request.encoding,
            "type": type(request)}


def test_article_requests_wait_small_and_come_back_equal():
    spider = _spider()
    queue = ArticleMemoryQueue.from_crawler(_Crawler(spider))
    plain = spider.article_request("https://baolaocai.vn/a-post1.html")
    referred = spider.article_request("https://baolaocai.vn/b-post2.html")
    referred.headers["Referer"] = "https://baolaocai.vn/thoi-su/"
    referred.meta["depth"] = 1
    recheck = spider.article_request("https://baolaocai.vn/c-post3.html", recheck="abc", dont_filter=True)
    listing = spider.page_request("https://baolaocai.vn/thoi-su/", spider.parse_listing, page=1)
    odd = spider.article_request("https://baolaocai.vn/d-post4.html")
    odd.meta["proxy"] = "http://p:1"
    requests = [plain, referred, recheck, listing, odd]
    wanted = [_as_dict(r) for r in requests]
    for r in requests:
        queue.push(r)
    kept = list(queue.q)
    assert [isinstance(k, tuple) for k in kept] == [True, True, False, False, False]
    assert _as_dict(queue.peek()) == wanted[-1]
    popped = [queue.pop() for _ in requests]
    assert [_as_dict(r) for r in popped] == wanted[::-1]  # LIFO, as Scrapy's memory queue
    assert queue.pop() is None and len(queue) == 0


# --- normalisation shortcuts ------------------------------------------------------------------------

_TEXT = st.text(alphabet=st.sampled_from(list("aoeuyAOUEYqhtn đĐ.,-_1²\n\t") + list(N._TONED) + list("òóỏõọÔơưẞİß’…")
                                         + ["\u0300", "\u0301", "\u0323", "\u0302", "\u200b", "\x1c", "\xa0",
                                            "\u3000", "\x0b"]), max_size=24)


_MULTISPACE = re.compile(" {2,}")  # the former implementation's collapse of spaces


def _clean_reference(text):
    if not text:
        return ""
    text = N._CONTROL.sub("", N._INVISIBLE.sub("", text))
    return N.nfc(_MULTISPACE.sub(" ", N._ODD_SPACES.sub(" ", text)).strip())


def _tone_reference(text):
    return N.nfc(N._OLD_STYLE.sub(lambda m: m.group(1) + m.group(3) + m.group(2), unicodedata.normalize("NFD", text)))


def _fold_reference(text):
    return _MULTISPACE.sub(" ", _tone_reference(N._PUNCT.sub(" ", _clean_reference(text).casefold()))).strip()


@PROPS
@given(_TEXT)
def test_normalisation_shortcuts_equal_their_references(text):
    assert N.clean_text(text) == _clean_reference(text)
    assert N.fold_tone_marks(text) == _tone_reference(text)
    assert N.fold_for_matching(text) == _fold_reference(text)
    words = re.compile(r"\w*[đĐ]\w*").findall(N.nfc(text))
    assert search_folded(text) == " ".join(w.translate(str.maketrans("đĐ", "dD")) for w in words)
    cleaned = N.clean_text(text)
    assert N.is_related_heading(cleaned, cleaned=True) == N.is_related_heading(cleaned)


_PHRASES = [p for pattern in (CHALLENGE, _CHALLENGE, _NOT_FOUND) for p in pattern.pattern.split("|")]


@PROPS
@given(st.text(max_size=20), st.sampled_from(_PHRASES), st.text(max_size=20), st.booleans())
def test_the_hints_never_hide_a_match(before, phrase, after, upper):
    text = before + (phrase.upper() if upper else phrase) + after
    for pattern, hints in ((CHALLENGE, CHALLENGE_HINTS), (_CHALLENGE, _CHALLENGE_HINTS), (_NOT_FOUND, _NOT_FOUND_HINTS)):
        if pattern.search(text):
            assert _may_match(text, hints)


def test_the_hints_are_each_alternative_s_and_safe_to_lower():
    for pattern, hints in ((CHALLENGE, CHALLENGE_HINTS), (_CHALLENGE, _CHALLENGE_HINTS), (_NOT_FOUND, _NOT_FOUND_HINTS)):
        assert all(any(h in alt for h in hints) for alt in pattern.pattern.split("|"))
        assert not any(set(h) & set("isſıİ") for h in hints)  # letters re.I equates with others


# --- parsing the page's own bytes -------------------------------------------------------------------------

@pytest.mark.parametrize("edit", [b"", b"  \n", b"\x00", "\u3000\n".encode()], ids=["as-is", "spaces-around", "nul",
                                                                                   "unicode-space-around"])
def test_a_page_parsed_from_its_utf8_bytes_is_the_page_parsed_from_its_text(edit):
    for url, html in _pages():
        html = edit + html + edit
        text, from_utf8 = decode_page(html)
        if not text.strip():
            continue
        with_bytes = Page(url, text, html if from_utf8 else None)
        assert etree.tostring(with_bytes.root) == etree.tostring(Page(url, text).root), url


# --- select_all's one predicate for class and id tests ---------------------------------------------------

_ATTR_CHARS = "ab-_ \t\n\xa0"
_ATTR_TESTS = st.tuples(st.sampled_from(["class", "id"]), st.sampled_from(["=", "^=", "$=", "*=", "~="]),
                        st.text(alphabet="ab-_", min_size=1, max_size=3))


def _css(name: str, op: str, value: str) -> str:
    return f'[{name}{op}"{value}"]'


@PROPS
@given(st.lists(st.lists(_ATTR_TESTS, min_size=1, max_size=2), min_size=1, max_size=4),
       st.text(alphabet=_ATTR_CHARS, max_size=12), st.text(alphabet=_ATTR_CHARS, max_size=6))
def test_select_all_predicate_is_the_attribute_tests(compounds, cls, ident):
    simple, others = _plan(tuple("".join(_css(*t) for t in tests) for tests in compounds))
    assert others == []
    want = any(all(_attr_ok(cls if name == "class" else ident, op, value) for name, op, value in tests)
               for tests in compounds)
    assert simple(cls, ident) == want


# --- style sheet rules ----------------------------------------------------------------------------------

_CSS_RULE = re.compile(r"([^{}]{1,200})\{([^}]{0,500})\}")  # the reference css_rules reproduces


def _style_texts() -> list[str]:
    return [t for url, html in _pages() for el in Page(url, decode_html(html)).tagged["style"] for t in el.xpath("text()")]


# Sheets with long brace-free runs (past the 200- and 500-character limits) and braces of every kind.
_SHEETS = st.lists(st.one_of(st.sampled_from("{}"), st.text(alphabet="a .;:\n{}", max_size=8),
                             st.integers(150, 650).map(lambda n: "a" * n)), max_size=30).map("".join)


@PROPS
@given(_SHEETS)
def test_css_rules_are_the_regular_expression_s_matches(css):
    assert css_rules(css) == _CSS_RULE.findall(css)


def test_css_rules_on_the_pages_style_sheets():
    for css in _style_texts():
        assert css_rules(css) == _CSS_RULE.findall(css)


# --- near-duplicates in batches -----------------------------------------------------------------------

def _corpus_db(path: Path) -> sqlite3.Connection:
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_neardup

    bench_neardup.store(path, bench_neardup.generate(600))
    return sqlite3.connect(path, isolation_level=None)


def _clusters(conn) -> list:
    return conn.execute("SELECT m.article_id, c.canonical_id, m.is_canonical, round(m.similarity, 9), c.size "
                        "FROM cluster_members m JOIN clusters c ON c.id = m.cluster_id ORDER BY 1").fetchall()


def test_indexing_in_batches_finds_what_one_pass_finds(tmp_path, monkeypatch):
    """One pass; small batches; small batches article by article (the path of re-indexed articles) with a
    signature cache smaller than the candidates."""
    results = []
    real = neardup.NearDupIndex._indexed_hashes
    for batch, per_article in ((100_000, False), (37, False), (37, True)):
        monkeypatch.setattr(neardup, "INDEX_BATCH", batch)
        monkeypatch.setattr(neardup._SignatureCache, "CAPACITY", 50)
        if per_article:  # an article of the batch said to be indexed already: no batch prefilter
            monkeypatch.setattr(neardup.NearDupIndex, "_indexed_hashes", lambda self, ids: {"-": "-"})
        else:
            monkeypatch.setattr(neardup.NearDupIndex, "_indexed_hashes", real)
        conn = _corpus_db(tmp_path / f"{batch}-{per_article}.db")
        index = neardup.NearDupIndex.open(conn, neardup.Params.make())
        report = index.index(index.pending())
        results.append((report.indexed, report.candidates, report.compared, report.pairs, _clusters(conn)))
    assert results[0][3] > 20  # the corpus has planted copies: clusters to compare
    assert results[0] == results[1] == results[2]
