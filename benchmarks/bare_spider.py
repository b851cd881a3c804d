"""The peer of the crawl benchmarks: a bare Scrapy spider that fetches a list of URLs and does nothing.

It fetches the same article URLs as our crawl, from the same mirror server process
(http://127.0.0.1:P/<host><path>, Scrapy's stock HTTP handler), with the same concurrency, no
delay, no AutoThrottle; no robots.txt, no project settings, no extraction, no pipelines, no item.
What is left is the cost of Scrapy itself and of the mirror: the floor our crawl is compared with.

    python benchmarks/bare_spider.py --urls FILE --mirror http://127.0.0.1:8800 [--concurrency 16]
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, urls: list[str], mirror: str, **kwargs):
        super().__init__(**kwargs)
        self.urls, self.mirror = urls, mirror.rstrip("/")

    async def start(self):
        for url in self.urls:
            p = urlsplit(url)
            yield scrapy.Request(f"{self.mirror}/{p.hostname}{p.path}" + (f"?{p.query}" if p.query else ""),
                                 self.parse)

    def parse(self, response):
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", required=True, help="file with one https://<paper>/<path> URL per line")
    ap.add_argument("--mirror", required=True, help="the mirror server, http://127.0.0.1:PORT")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--probe", help="write benchmarks/probe.py's JSON record here")
    args = ap.parse_args()
    with open(args.urls, encoding="utf-8") as fh:
        urls = [line.strip() for line in fh if line.strip()]
    settings = {
        "ROBOTSTXT_OBEY": False, "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS": args.concurrency, "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "COOKIES_ENABLED": False, "TELNETCONSOLE_ENABLED": False, "LOG_LEVEL": "INFO",
        "USER_AGENT": "vn-provincial-news-bench/bare",
    }
    if args.probe:
        settings |= {"EXTENSIONS": {"benchmarks.probe.Probe": 0}, "BENCH_PROBE_FILE": args.probe}
    process = CrawlerProcess(settings)
    process.crawl(BareSpider, urls=urls, mirror=args.mirror)
    process.start()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
