"""A worker's crawl state: what crawler.state.CrawlState answers from SQLite, answered from Redis.

Workers never open the database (it may be on another machine, and SQLite keeps one writer: the
ingest). The choice, per question the spider asks:

- known links (`unknown`): the url ids of the stored articles, their aliases and the URLs fetched
  to a conclusion, as the database held them when the run began: the ingest publishes them to
  `news:KEY:known` before any worker starts (`ready`). Within the run, the shared dupefilter keeps
  any URL from being requested twice, so the snapshot need not follow the ingest's writes;
- the frontier (`record_page`): the shared Redis queue itself, leased while a request is processed
  (crawler.distributed.scheduler); nothing to record;
- URLs settled without an article (`settle`: robots.txt forbids them): sent to the ingest, which
  records them as a single-machine crawl would;
- failed fetches (`failed`): counted by the spider's stats only. Not being stored, the link is
  asked for again by the next run, distributed or not (the SQLite frontier's attempt count, which
  gives a dead link up after NEWS_MAX_ATTEMPTS runs, is the single-machine refresh's);
- what the spider asks the Store itself (`state.store`: validators of a page, publication days
  for a backfill's `since`, the SQLite frontier and the rechecks due): `WorkerStore` answers
  "nothing known". So no conditional requests are sent, a section's first page is walked as
  never read to the end before (NEWS_MAX_LISTING_PAGES deep; known articles are still not
  fetched), `since` is judged on this worker's own fetches, and the SQLite frontier and
  rechecks stay with the single-machine refresh.
"""

from __future__ import annotations

import logging
import time

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from crawler.canonical import url_id
from crawler.distributed import WORKER_ID, connect
from crawler.distributed.frontier import SharedFrontier
from crawler.distributed.inbox import Inbox, settle_message

logger = logging.getLogger(__name__)

WAIT_LOG_EVERY = 30  # seconds between two "waiting for the ingest" lines


def sleep(seconds: float):
    """A timer on the running reactor (never time.sleep: the crawl goes on meanwhile)."""
    from twisted.internet import reactor  # the one Scrapy installed: not imported before it is

    return maybe_deferred_to_future(deferLater(reactor, seconds))


class WorkerStore:
    """The Store as a worker sees it: nothing known, nothing written. Anything else is a mistake."""

    def validators(self, url: str) -> None:
        return None

    def published(self, ids) -> dict[str, str]:
        return {}

    def frontier(self, site: str) -> list:
        return []

    def give_up_frontier(self, *args, **kwargs) -> list:
        return []

    def recheck_due(self, *args, **kwargs) -> list:
        return []

    def record_page(self, *args, **kwargs) -> None:
        """A page to read again next run: the next distributed run starts from the start pages anyway."""

    def __getattr__(self, name: str):
        raise RuntimeError(f"a distributed worker does not open the database (Store.{name}); the ingest writes it")


class RedisCrawlState:
    distributed = True

    def __init__(self, crawler, site: str):
        self.crawler, self.site = crawler, site
        server = connect(crawler.settings.get("NEWS_REDIS_URL"))
        self.frontier, self.inbox = SharedFrontier(server, site), Inbox(server, site)
        self.crawl_id = None

    @property
    def stats(self):
        return self.crawler.stats

    store = WorkerStore()

    async def ready(self) -> None:
        """Wait until the ingest has published the paper's known links, then join the run."""
        next_note = 0.0
        while not self.frontier.is_ready():
            if time.monotonic() >= next_note:
                logger.info("%s: waiting for the ingest (`python -m crawler ingest`) to start the run", self.site)
                next_note = time.monotonic() + WAIT_LOG_EVERY
            await sleep(0.2)
        self.frontier.join(WORKER_ID)

    def unknown(self, urls: list[str]) -> list[tuple[str, str]]:
        spellings: dict[str, str] = {}
        for url in urls:
            spellings.setdefault(url_id(url), url)
        new = set(self.frontier.unknown(list(spellings)))
        self.stats.inc_value("refresh/links/known", len(spellings) - len(new))
        self.stats.inc_value("refresh/links/new", len(new))
        return [(i, u) for i, u in spellings.items() if i in new]

    def record_page(self, response, *args, **kwargs) -> None:
        """The shared queue is the frontier: the page's links are queued as the spider yields them."""

    def settle(self, urls: list[str], outcome: str, article_id: str = "") -> None:
        self.inbox.send(settle_message(urls, outcome, article_id))

    def failed(self, *urls: str) -> None:
        """Counted by the spider; asked for again by the next run."""

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def worker_state(crawler, site: str) -> RedisCrawlState:
    """The crawler's state in worker mode (crawler.state.state_for returns it from now on)."""
    state = getattr(crawler, "_news_state", None)
    if not isinstance(state, RedisCrawlState):
        state = crawler._news_state = RedisCrawlState(crawler, site)
    return state
