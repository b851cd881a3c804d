"""Page metadata: OpenGraph, article:*, itemprop and JSON-LD NewsArticle, read once per page."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from lxml import etree

from crawler.extract.page import Page
from crawler.normalize import clean_title, unescape_entities

_TEXT = etree.XPath("text()", smart_strings=False)
_ARTICLE_TYPES = {"NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting", "AnalysisNewsArticle"}


@dataclass
class Metadata:
    title: str = ""
    description: str = ""
    canonical: str = ""
    og_type: str = ""
    image: str = ""
    section: str = ""
    tags: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    author: str = ""
    # (value, where it came from) in order of trust; dates.parse_any reads them.
    published: list[tuple[str, str]] = field(default_factory=list)
    modified: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Head:
    """What the page's <meta>, <link> and <script> elements say: name/property/itemprop ->
    first non-empty content, the article:tag values (repeated), the first canonical link's href, and the
    JSON-LD texts."""

    index: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    canonical: str | None = None
    jsonld: list[str] = field(default_factory=list)


def _read_head(page: Page) -> _Head:
    head = _Head()
    index = head.index
    tagged = page.tagged
    for el in tagged["meta"]:
        content = (el.get("content") or "").strip()
        if not content:
            continue
        for attr in ("property", "name", "itemprop"):
            key = el.get(attr)
            if key:
                index.setdefault(key, content)
                if key == "article:tag":
                    head.tags.append(content)
    for el in tagged["link"]:
        if el.get("rel") == "canonical" and (href := el.get("href")) is not None:
            head.canonical = href
            break
    for el in tagged["script"]:
        if el.get("type") == "application/ld+json":
            head.jsonld.extend(_TEXT(el))
    return head


def _meta(index: dict[str, str], *names: str) -> str:
    for name in names:
        if value := index.get(name):
            return value
    return ""


def _jsonld_articles(texts: list[str]) -> list[dict]:
    found = []
    for raw in texts:
        try:
            data = json.loads(raw.strip(), strict=False)
        except ValueError:
            continue  # broken JSON-LD is common; other sources still fill the fields
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if not isinstance(item, dict):
                continue
            stack.extend(item.get("@graph", []) if isinstance(item.get("@graph"), list) else [])
            types = item.get("@type")
            types = set(types) if isinstance(types, list) else {types}
            if types & _ARTICLE_TYPES:
                found.append(item)
    return found


def _names(value) -> str:
    if isinstance(value, list):
        return ", ".join(filter(None, (_names(v) for v in value)))
    if isinstance(value, dict):
        return str(value.get("name") or "")
    return str(value or "")


def read_metadata(page: Page) -> Metadata:
    head = _read_head(page)
    index, tags = head.index, head.tags
    meta = Metadata(
        title=clean_title(_meta(index, "og:title", "twitter:title")),
        description=unescape_entities(_meta(index, "og:description", "description", "Description")),
        canonical=(head.canonical or _meta(index, "og:url")).strip(),
        og_type=_meta(index, "og:type").lower(),
        image=_meta(index, "og:image"),
        section=unescape_entities(_meta(index, "article:section")),
        tags=[unescape_entities(t) for t in tags],
        keywords=[k.strip() for k in unescape_entities(_meta(index, "keywords", "Keywords", "news_keywords")).split(",")],
        author=unescape_entities(_meta(index, "author", "article:author", "dable:author")),
    )
    meta.keywords = [k for k in meta.keywords if k]
    for name in ("article:published_time", "datePublished", "pubdate", "og:pubdate", "cms-date"):
        if value := _meta(index, name):
            meta.published.append((value, f"meta:{name}"))
    if value := _meta(index, "article:modified_time", "dateModified", "og:updated_time"):
        meta.modified.append((value, "meta:modified"))
    for item in _jsonld_articles(head.jsonld):
        if not meta.title and item.get("headline"):
            meta.title = clean_title(str(item["headline"]))
        if not meta.description and item.get("description"):
            meta.description = unescape_entities(str(item["description"]))
        if item.get("datePublished"):
            meta.published.append((str(item["datePublished"]), "jsonld"))
        if item.get("dateModified"):
            meta.modified.append((str(item["dateModified"]), "jsonld"))
        if not meta.section and item.get("articleSection"):
            meta.section = unescape_entities(_names(item["articleSection"]))
        author = unescape_entities(_names(item.get("author")))
        if author and not meta.author:
            meta.author = author
    return meta
