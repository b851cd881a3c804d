"""Page metadata: OpenGraph, article:*, itemprop and JSON-LD NewsArticle, read once per page."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from crawler.extract.page import Page
from crawler.normalize import clean_title, unescape_entities

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


def _meta(page: Page, *names: str) -> str:
    for name in names:
        for attr in ("property", "name", "itemprop"):
            value = page.sel.xpath(f"//meta[@{attr}='{name}']/@content").get()
            if value and value.strip():
                return value.strip()
    return ""


def _jsonld_articles(page: Page) -> list[dict]:
    found = []
    for raw in page.sel.xpath("//script[@type='application/ld+json']/text()").getall():
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
    meta = Metadata(
        title=clean_title(_meta(page, "og:title", "twitter:title")),
        description=unescape_entities(_meta(page, "og:description", "description", "Description")),
        canonical=(page.sel.xpath("//link[@rel='canonical']/@href").get() or _meta(page, "og:url")).strip(),
        og_type=_meta(page, "og:type").lower(),
        image=_meta(page, "og:image"),
        section=unescape_entities(_meta(page, "article:section")),
        tags=[unescape_entities(t) for t in page.sel.xpath("//meta[@property='article:tag']/@content").getall()],
        keywords=[k.strip() for k in unescape_entities(_meta(page, "keywords", "Keywords", "news_keywords")).split(",")],
        author=unescape_entities(_meta(page, "author", "article:author", "dable:author")),
    )
    meta.keywords = [k for k in meta.keywords if k]
    for name in ("article:published_time", "datePublished", "pubdate", "og:pubdate", "cms-date"):
        if value := _meta(page, name):
            meta.published.append((value, f"meta:{name}"))
    if value := _meta(page, "article:modified_time", "dateModified", "og:updated_time"):
        meta.modified.append((value, "meta:modified"))
    for item in _jsonld_articles(page):
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
