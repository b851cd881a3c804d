"""Identity and rendering: the stable id, the content fingerprint and the seed-schema document.

Settings: NEWS_DATE_PRECISION (day | month | none) and NEWS_SOURCE_LINE (bool)."""

from __future__ import annotations

from scrapy.exceptions import NotConfigured

from crawler.article import Article
from crawler.canonical import url_id
from crawler.registry import default_registry
from crawler.render import DATE_PRECISIONS, content_hash, render_document


class RenderPipeline:
    def __init__(self, date_precision: str, source_line: bool):
        if date_precision not in DATE_PRECISIONS:
            raise NotConfigured(f"NEWS_DATE_PRECISION must be one of {', '.join(DATE_PRECISIONS)}")
        self.date_precision, self.source_line = date_precision, source_line
        self.registry = default_registry()

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        return cls(s.get("NEWS_DATE_PRECISION", "day"), s.getbool("NEWS_SOURCE_LINE", True))

    def process_item(self, item: Article, spider=None):
        item.id = url_id(item.canonical_url or item.url, self.registry)
        item.content_hash = content_hash(item)
        site = self.registry.sites.get(item.site)
        item.text = render_document(
            item,
            date_precision=self.date_precision,
            source_line=self.source_line,
            short_name=site.short_name if site else "",
        )
        return item
