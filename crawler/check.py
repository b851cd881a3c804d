"""Site health: `python -m crawler check SITE` crawls a few recent articles of one paper, without
storing anything, and reports per field how many were found and by which path (the paper's own
selectors, its family's, or the generic fallback). Core fields missing from the family path on
most pages means the template changed: the command says so and exits 1."""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from scrapy.crawler import CrawlerProcess

from crawler.article import ARTICLE, Article
from crawler.run import crawl_settings

CORE = ("title", "published_at", "body")
REPORTED = ("title", "published_at", "sapo", "body", "author", "category", "tags")


class CheckCollector:
    """Item pipeline that only collects what the spider extracted."""

    collected: ClassVar[list[Article]] = []

    def process_item(self, item, spider=None):
        CheckCollector.collected.append(item)
        return item


def summarize(articles: list[Article]) -> tuple[list[str], bool]:
    pages = [a for a in articles if a.page_kind == ARTICLE]
    lines = [f"{len(pages)} article pages checked ({len(articles) - len(pages)} non-article pages skipped)"]
    lines.append(f"{'field':14} {'found':>7} {'family':>7} {'site':>5} {'generic':>8}")
    changed = False
    for field in REPORTED:
        sources = Counter((a.field_sources.get(field, "") or "none").split(":")[0].split("/")[0] for a in pages)
        found = sum(n for s, n in sources.items() if s != "none")
        own = sources["family"] + sources["site"] + sources["body"]
        lines.append(f"{field:14} {found:4d}/{len(pages):<2d} {sources['family'] + sources['body']:7d} "
                     f"{sources['site']:5d} {sources['generic'] + sources['jsonld'] + sources['meta']:8d}")
        if field in CORE and pages and own < len(pages) / 2:
            changed = True
    if not pages:
        lines.append("no article page reached: check the start URLs and the article pattern")
        changed = True
    if changed:
        lines.append("TEMPLATE CHANGE? core fields come from the generic fallback (or nowhere) on most pages")
    else:
        lines.append("ok: the paper's parser finds the core fields")
    return lines, changed


def run_check(key: str, count: int = 5, mirror: str = "") -> int:
    CheckCollector.collected = []
    settings = crawl_settings(
        db=":memory:", mirror=mirror, fast=bool(mirror),
        ITEM_PIPELINES={"crawler.check.CheckCollector": 100},
        CLOSESPIDER_ITEMCOUNT=count, LOG_LEVEL="WARNING", NEWS_MAX_LISTING_PAGES=1,
    )
    process = CrawlerProcess(settings)
    process.crawl(key)
    process.start()
    lines, changed = summarize(CheckCollector.collected[:count])
    print(f"{key}: " + "\n".join(lines))
    return 1 if changed else 0
