"""Refreshing several papers in one process: the `refresh` command (and `crawl`, the same thing).

For cron: each paper's lock is taken before anything starts (a paper another refresh is crawling is
skipped with one line, and that is not a failure); the crawls run together; each paper ends with
one summary line; the exit code is 0 when every paper crawled ended "ok" (or was skipped), 1 when
one had errors, failed or was interrupted.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

from crawler.lock import SiteLock
from crawler.registry import default_registry
from pipelines.store import crawl_errors, crawl_outcome

logger = logging.getLogger(__name__)

FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 8}


def crawl_settings(db: str, mirror: str = "", fast: bool = False, **extra):
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    settings = get_project_settings()
    settings.set("DB_PATH", db, priority="cmdline")
    if mirror:
        settings.set("MIRROR_URL", mirror, priority="cmdline")
    if fast:
        for k, v in FAST.items():
            settings.set(k, v, priority="cmdline")
    for k, v in extra.items():
        settings.set(k, v, priority="cmdline")
    return settings


def summary_line(key: str, stats: dict) -> str:
    outcome = stats.get("crawl/outcome") or crawl_outcome(stats.get("finish_reason"), crawl_errors(stats))
    dup = stats.get("articles/duplicate/url", 0) + stats.get("articles/duplicate/content", 0)
    seconds = stats.get("elapsed_time_seconds", 0.0)
    return (
        f"{key}: {outcome}: {stats.get('articles/new', 0)} new, {stats.get('articles/updated', 0)} updated, "
        f"{stats.get('requests/recheck', 0)} rechecked, {dup} duplicate, {stats.get('articles/dropped', 0)} dropped; "
        f"{stats.get('downloader/request_count', 0)} requests ({stats.get('requests/article', 0)} article, "
        f"{stats.get('refresh/not_modified', 0)} not modified), {crawl_errors(stats)} errors, "
        f"{stats.get('downloader/response_bytes', 0) // 1024} KiB, {seconds:.1f} s"
    )


def run_refresh(keys: list[str], db: str, mirror: str = "", fast: bool = False, quiet: bool = False,
                log_file: str = "", spider_args: dict | None = None, out: Callable[[str], None] | None = None,
                **extra) -> int:
    """Refresh the papers `keys` (default: all) into `db`; returns the exit code for cron."""
    out = out or (lambda line: print(line, flush=True))
    registry = default_registry()
    keys = keys or [s.key for s in registry]
    for key in keys:
        registry[key]  # unknown keys fail before anything starts
    if log_file:
        extra.setdefault("LOG_FILE", log_file)  # Scrapy appends (LOG_FILE_APPEND) at LOG_LEVEL
    elif quiet:
        extra.setdefault("LOG_LEVEL", "ERROR")  # cron mails any output: errors only

    locks: dict[str, SiteLock] = {}
    lines: dict[str, str] = {}
    for key in keys:
        lock = SiteLock(db, key)
        if not lock.acquire():
            lines[key] = (f"{key}: skipped: another refresh is running (pid {lock.holder or '?'}, "
                          f"lock {lock.path})")
            continue
        locks[key] = lock
        if lock.stale_pid:
            # A refresh that died without releasing its lock (kill -9, power loss): worth a word on stderr.
            print(f"{key}: taken over a stale lock from pid {lock.stale_pid}", file=sys.stderr, flush=True)
    failed = False
    try:
        if locks:
            process = CrawlerProcess(crawl_settings(db, mirror, fast, **extra))
            crawlers = {}
            for key in locks:
                crawlers[key] = process.create_crawler(key)
                process.crawl(crawlers[key], **(spider_args or {}))
            process.start()
            for key, crawler in crawlers.items():
                stats = crawler.stats.get_stats() if crawler.stats else {}
                lines[key] = summary_line(key, stats)
                failed |= stats.get("crawl/outcome") != "ok"
    finally:
        for lock in locks.values():
            lock.release()
    for key in keys:
        ok = key not in locks or lines[key].startswith(f"{key}: ok:")
        if log_file:
            logger.info("%s", lines[key])
        if not quiet or not ok:
            out(lines[key])
    return 1 if failed else 0


def run_crawl(keys: list[str], db: str, mirror: str = "", fast: bool = False, **extra) -> int:
    """The `crawl` command and `make demo`: a refresh (on an empty database, a full crawl)."""
    return run_refresh(keys, db, mirror=mirror, fast=fast, **extra)
