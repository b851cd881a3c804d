"""Scrapy settings of the project, and our own settings with their defaults, all in one place.

Our settings (override with `-s NAME=value`, or in a custom settings module):

DB_PATH                 SQLite file the crawl writes (default data/news.db; env DB_PATH).
MIRROR_URL              http://127.0.0.1:PORT of a local mirror: every request for a registry domain
                        is served by it, while stored URLs stay the papers' own (env MIRROR_URL).
NEWS_DATE_PRECISION     day | month | none: the ` date ...` prefix of the title line (default day).
NEWS_SOURCE_LINE        write the `Nguồn <paper>: <url>` line (default True).
NEWS_MAX_LISTING_PAGES  how deep the spider follows a section's pagination (default 5).
NEWS_BATCH_SIZE         articles per SQLite transaction (default 50).
NEWS_USE_FAMILIES       False to extract with the generic path only, for diagnosis (default True).

Incremental refreshes (every crawl is one; see spiders/news.py and README "Scheduled refreshes"):

NEWS_KNOWN_PAGES_TOLERANCE  a section's listing walk stops after this many pages in a row without a
                            new article (default 1: at the first such page; 0: never stop early).
NEWS_RECHECK_HOURS          articles published (or, undated, first seen) within this many hours are
                            fetched once more to catch an edit (default 48; 0 turns rechecks off).
NEWS_RECHECK_DELAY_HOURS    ... at the first run at least this many hours after they were stored
                            (default 6: a recheck a minute later would catch nothing).
NEWS_BACKFILL_MAX_PAGES     listing depth of a backfill (`-a since=YYYY-MM-DD`, `-a backfill=1`)
                            when `-a max_pages=N` is not given (default 100).
NEWS_MAX_ATTEMPTS           runs in which a new article link may fail (HTTP error or 404, timeout,
                            extraction error) before it is given up with a warning (default 3).

Retries within a run (crawler/retry.py; how many: Scrapy's RETRY_TIMES, RETRY_HTTP_CODES):

NEWS_RETRY_BACKOFF          seconds: retry n waits a random time below NEWS_RETRY_BACKOFF * 2**(n-1)
                            (exponential backoff with full jitter; default 1.0).
NEWS_RETRY_MAX_DELAY        seconds: the cap of any wait (default 60). A 429/503 `Retry-After` is
                            waited for (and pauses the host) up to this; a longer one is left to the
                            next run.

WARC archives (crawler/warc.py; re-extraction: crawler/reextract.py; README "WARC archives"):

WARC_DIR                    directory of the WARC archive: every fetched response and its request
                            go to rotating gzipped WARC files there (default empty: off).
NEWS_WARC_MAX_BYTES         a WARC file is closed and the next one started once it reaches this size
                            (default 1_000_000_000, 1 GB; 0: one file per process).

Near-duplicates across papers (crawler/neardup.py, pipelines/neardup.py; README "Near-duplicates"):

NEWS_NEARDUP_ENABLED        index each crawl's new articles and link near-duplicates (default True).
NEWS_NEARDUP_THRESHOLD      Jaccard similarity of two articles' word-shingle sets (lede and body,
                            folded) from which they are near-duplicates (default 0.55, chosen with
                            benchmarks/bench_neardup.py: precision 1.000, recall 0.978 there).
NEWS_NEARDUP_SHINGLE        words per shingle (default 5).
NEWS_NEARDUP_PERM           MinHash permutations per signature (default 128); LSH bands follow from it
                            and the threshold. An existing index keeps the values it was built with:
                            `python -m crawler dedupe --rebuild` applies new ones.

Distributed crawling on scrapy-redis (crawler/distributed/; README "Distributed crawling"):

NEWS_REDIS_URL              redis://[:password@]host:port/db of a distributed crawl (default empty:
                            one machine, no Redis). Set, a paper's spider is a worker (`scrapy crawl
                            KEY -s NEWS_REDIS_URL=...`, `python -m crawler worker --redis URL`): the
                            queue and dupefilter are shared in Redis, its articles go to the one
                            `python -m crawler ingest --redis URL`, and it never opens DB_PATH.
NEWS_REDIS_IDLE_SECONDS     a worker stops once its paper's shared frontier (queued and in-flight
                            requests of every worker) has been empty this long; the ingest, once no
                            worker is left, waits this long for a new one before leaving unfinished
                            requests in Redis for the next run (default 30).
"""

import os

BOT_NAME = "vn-provincial-news"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# --- our settings -------------------------------------------------------------------------------
DB_PATH = os.environ.get("DB_PATH", "data/news.db")
MIRROR_URL = os.environ.get("MIRROR_URL", "")
NEWS_DATE_PRECISION = "day"
NEWS_SOURCE_LINE = True
NEWS_MAX_LISTING_PAGES = 5
NEWS_BATCH_SIZE = 50
NEWS_USE_FAMILIES = True
NEWS_KNOWN_PAGES_TOLERANCE = 1
NEWS_RECHECK_HOURS = 48
NEWS_RECHECK_DELAY_HOURS = 6
NEWS_BACKFILL_MAX_PAGES = 100
NEWS_MAX_ATTEMPTS = 3
NEWS_RETRY_BACKOFF = 1.0
NEWS_RETRY_MAX_DELAY = 60.0
WARC_DIR = ""
NEWS_WARC_MAX_BYTES = 1_000_000_000
NEWS_NEARDUP_ENABLED = True
NEWS_NEARDUP_THRESHOLD = 0.55
NEWS_NEARDUP_SHINGLE = 5
NEWS_NEARDUP_PERM = 128
NEWS_REDIS_URL = ""
NEWS_REDIS_IDLE_SECONDS = 30

# --- politeness -----------------------------------------------------------------------------------
# A descriptive User-Agent; set your own contact with -s USER_AGENT="... (+mailto:you@example.org)".
USER_AGENT = "vn-provincial-news/0.1 (research corpus crawler; +https://github.com/vn-provincial-news)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# Outputs of one callback handled at a time. Scrapy starts this many asyncio tasks for every response's
# output (default 100); our pipelines are synchronous and an article page yields one item, so more
# buys nothing and the tasks cost about a seventh of the crawl's CPU (benchmarks/bench_crawl.py).
CONCURRENT_ITEMS = 1
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
RETRY_TIMES = 3
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
COOKIES_ENABLED = False
# No way into a running crawl: no telnet console, and not Scrapy's remote control either (2.19 turns
# on by default an HTTP server that runs Python code sent to it, on localhost behind a token).
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
# Passwords in URLs and secret-named settings are masked in every log line (crawler/redact.py).
# ErrorCounter: `errors/logged` counts only this crawl's ERROR lines (Scrapy's log_count/ERROR counts
# every crawl's in a process that runs several), so one paper's error does not fail the others.
EXTENSIONS = {"crawler.redact.RedactSecrets": 0, "crawler.errorcount.ErrorCounter": 0,
              "crawler.gctune.GcTuning": 0}  # GcTuning: less time in the garbage collector (crawler/gctune.py)

# The mirror routing lives in the download handler, below every middleware, so robots.txt,
# redirects, retries, the dupefilter and the stats all see the papers' real URLs.
DOWNLOAD_HANDLERS = {
    "http": "crawler.mirror_handler.MirrorDownloadHandler",
    "https": "crawler.mirror_handler.MirrorDownloadHandler",
}

# Conditional requests (If-None-Match / If-Modified-Since) for listing, feed and sitemap pages.
# Retries wait (backoff, Retry-After) in place of Scrapy's RetryMiddleware; empty and cut-off 200s
# are recognised below HttpCompressionMiddleware (590: the inflated body, DOWNLOAD_MAXSIZE applied
# to it) and retried like a 5xx; off-site redirects and redirect loops fail the request, counted,
# before RedirectMiddleware (600) follows them (crawler/guards.py).
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.retry.BackoffRetryMiddleware": 550,
    "crawler.conditional.ConditionalGetMiddleware": 560,
    "crawler.guards.PageCheckMiddleware": 585,
    "crawler.guards.RedirectGuardMiddleware": 610,
    # Next to the download handler: every response as received, each redirect hop and retry (WARC_DIR).
    "crawler.warc.WarcMiddleware": 950,
}

# Article requests wait in the scheduler as (url, referer, depth), not as Request objects: memory stays
# flat however many links a listing page or sitemap gives at once (crawler/squeue.py).
SCHEDULER_MEMORY_QUEUE = "crawler.squeue.ArticleMemoryQueue"

ITEM_PIPELINES = {
    "pipelines.validate.ValidatePipeline": 100,
    "pipelines.render.RenderPipeline": 200,
    "pipelines.dedupe.DedupePipeline": 300,
    "pipelines.store.SQLitePipeline": 400,
    "pipelines.neardup.NearDupPipeline": 500,
}

LOG_FORMATTER = "crawler.logformatter.NewsLogFormatter"
FEED_EXPORT_ENCODING = "utf-8"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
LOG_LEVEL = "INFO"
