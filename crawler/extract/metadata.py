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


def _meta_index(page: Page) -> tuple[dict[str, str], list[str]]:
    """Every <meta> of the page in one pass: name/property/itemprop -> first non-empty content,
    and the article:tag values (repeated)."""
    index: dict[str, str] = {}
    tags: list[str] = []
    for el in page.sel.root.iter("meta"):
        content = (el.get("content") or "").strip()
        if not content:
            continue
        for attr in ("property", "name", "itemprop"):
            key = el.get(attr)
            if key:
                index.setdefault(key, content)
                if key == "article:tag":
                    tags.append(content)
    return index, tags


def _meta(index: dict[str, str], *names: str) -> str:
    for name in names:
        if value := index.get(name):
            return value
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
    index, tags = _meta_index(page)
    meta = Metadata(
        title=clean_title(_meta(index, "og:title", "twitter:title")),
        description=unescape_entities(_meta(index, "og:description", "description", "Description")),
        canonical=(page.sel.xpath("//link[@rel='canonical']/@href").get() or _meta(index, "og:url")).strip(),
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
