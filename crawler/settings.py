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

# --- politeness -----------------------------------------------------------------------------------
# A descriptive User-Agent; set your own contact with -s USER_AGENT="... (+mailto:you@example.org)".
USER_AGENT = "vn-provincial-news/0.1 (research corpus crawler; +https://github.com/vn-provincial-news)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
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
TELNETCONSOLE_ENABLED = False

# The mirror routing lives in the download handler, below every middleware, so robots.txt,
# redirects, retries, the dupefilter and the stats all see the papers' real URLs.
DOWNLOAD_HANDLERS = {
    "http": "crawler.mirror_handler.MirrorDownloadHandler",
    "https": "crawler.mirror_handler.MirrorDownloadHandler",
}

ITEM_PIPELINES = {
    "pipelines.validate.ValidatePipeline": 100,
    "pipelines.render.RenderPipeline": 200,
    "pipelines.dedupe.DedupePipeline": 300,
    "pipelines.store.SQLitePipeline": 400,
}

LOG_FORMATTER = "crawler.logformatter.NewsLogFormatter"
FEED_EXPORT_ENCODING = "utf-8"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
LOG_LEVEL = "INFO"
