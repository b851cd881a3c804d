"""The `worker` and `ingest` commands: several papers in one process, one summary line each.

    python -m crawler ingest --redis URL [--db FILE] [SITE ...]    # one, next to the database
    python -m crawler worker --redis URL [SITE ...]                # any number, on any machines

Exit codes as `refresh`: 0 when every paper ended well (a worker: finished; the ingest: the crawl
row's outcome ok), 1 otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from scrapy.crawler import CrawlerProcess

from crawler.registry import default_registry
from crawler.run import crawl_settings, summary_line


def _keys(keys: list[str]) -> list[str]:
    registry = default_registry()
    keys = keys or [s.key for s in registry]
    for key in keys:
        registry[key]  # unknown keys fail before anything starts
    return keys


def _print(line: str) -> None:
    print(line, flush=True)


def worker_line(key: str, stats: dict) -> str:
    return (f"{key}: {stats.get('finish_reason', 'failed')}: {stats.get('distributed/items_sent', 0)} articles sent; "
            f"{stats.get('downloader/request_count', 0)} requests ({stats.get('requests/article', 0)} article), "
            f"{stats.get('distributed/recovered', 0)} requeued from dead workers, "
            f"{stats.get('downloader/response_bytes', 0) // 1024} KiB, {stats.get('elapsed_time_seconds', 0.0):.1f} s")


def run_workers(keys: list[str], redis: str, mirror: str = "", fast: bool = False,
                out: Callable[[str], None] = _print, **extra) -> int:
    """Crawl the papers `keys` (default: all) as a worker of the distributed crawl at `redis`."""
    keys = _keys(keys)
    # DB_PATH is never opened by a worker; it is set to nothing that could be mistaken for a database.
    process = CrawlerProcess(crawl_settings("", mirror, fast, NEWS_REDIS_URL=redis, **extra))
    crawlers = {key: process.create_crawler(key) for key in keys}
    for crawler in crawlers.values():
        process.crawl(crawler)
    process.start()
    failed = False
    for key, crawler in crawlers.items():
        stats = crawler.stats.get_stats() if crawler.stats else {}
        out(worker_line(key, stats))
        failed |= stats.get("finish_reason") != "finished"
    return 1 if failed else 0


def run_ingest(keys: list[str], db: str, redis: str, out: Callable[[str], None] = _print, **extra) -> int:
    """Store what the workers of `keys` (default: all papers) send through `redis` into `db`."""
    from crawler.distributed.ingest import IngestSpider

    keys = _keys(keys)
    process = CrawlerProcess(crawl_settings(db, NEWS_REDIS_URL=redis, **extra))
    crawlers = {}
    for key in keys:
        spidercls = type(f"{key.title()}Ingest", (IngestSpider,), {"name": key, "site_key": key})
        crawlers[key] = process.create_crawler(spidercls)
        process.crawl(crawlers[key])
    process.start()
    failed = False
    for key, crawler in crawlers.items():
        stats = crawler.stats.get_stats() if crawler.stats else {}
        out(summary_line(key, stats))
        failed |= stats.get("crawl/outcome") != "ok"
    return 1 if failed else 0
