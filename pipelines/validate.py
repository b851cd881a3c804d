"""Validation: only real articles with a title and a body go on; everything else is dropped with a
counted reason (`articles/dropped/not_article/video`, `.../missing_title`...). Also counts, per
field, which extraction path filled it, so a template change shows as rising fallback counts."""

from __future__ import annotations

from scrapy.exceptions import DropItem

from crawler.article import ARTICLE, Article
from crawler.dates import in_range, parse_iso


class ValidatePipeline:
    def __init__(self, stats):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def drop(self, reason: str, article: Article):
        self.stats.inc_value(f"articles/dropped/{reason}")
        self.stats.inc_value("articles/dropped")
        raise DropItem(f"{reason}: {article.url}")

    def process_item(self, item: Article, spider=None):
        for field, source in item.field_sources.items():
            self.stats.inc_value(f"extract/source/{field}/{source.split(':')[0]}")
            if source.startswith("generic"):
                self.stats.inc_value(f"extract/fallback/{field}")
        if item.page_kind != ARTICLE:
            self.drop(f"not_article/{item.page_kind}", item)
        if not item.title:
            self.drop("missing_title", item)
        if not item.paragraphs:
            self.drop("empty_body", item)
        if item.published_at:
            parsed = parse_iso(item.published_at)
            if parsed is None or not in_range(parsed):
                # A date in the future or before 1990 is a parsing accident, not a fact: keep the article.
                self.stats.inc_value("articles/date_out_of_range")
                item.published_at = ""
        else:
            self.stats.inc_value("articles/missing_date")
        return item
