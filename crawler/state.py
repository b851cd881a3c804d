"""What one crawl knows and has not yet written: the open Store, the batch, the crawl row.

One `CrawlState` per crawler (`state_for(crawler)`), shared by the spider (which links are new,
what to resume, what to recheck), the conditional-request middleware and the pipelines (dedupe,
store). Everything the spider learns about an article page travels with the article item (`fetch`
below), so that the article and the record that its URL was fetched commit in the same batch: a
kill between the two cannot happen, and a rerun neither loses the article nor fetches it again.

Settings, read once here: DB_PATH, NEWS_BATCH_SIZE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from crawler.article import Article
from crawler.canonical import canonical_url, url_id
from crawler.storage import Batch, Store


@dataclass
class Fetch:
    """How an article page was reached: every URL of the redirect chain, and the article id when the
    request was a recheck of a stored article."""

    urls: list[str] = field(default_factory=list)
    recheck: str = ""


def attach_fetch(article: Article, response) -> Article:
    # Not a dataclass field, so feed exports (which list the fields) never show it.
    article._fetch = Fetch(urls=fetched_urls(response), recheck=response.meta.get("recheck", ""))
    return article


def fetch_of(item) -> Fetch | None:
    return getattr(item, "_fetch", None)


def fetched_urls(response) -> list[str]:
    return list(dict.fromkeys([*response.meta.get("redirect_urls", []), response.url]))


class CrawlState:
    def __init__(self, crawler, path: str, batch_size: int):
        self.crawler = crawler
        self.path, self.batch_size = path, batch_size
        self._store: Store | None = None
        self.batch = Batch()
        self.crawl_id: int | None = None
        self.site = ""
        self.archived = False  # articles re-extracted from a WARC archive (crawler/reextract.py), not fetched now

    @property
    def stats(self):
        return self.crawler.stats  # set only once the crawl starts, after the spider is built

    @property
    def store(self) -> Store:
        # Opened on first use: the spider may need it before the store pipeline opens (or without it).
        if self._store is None:
            self._store = Store(self.path)
        return self._store

    # --- dedupe helpers ---------------------------------------------------------------------------
    def pending_id_for_content(self, content_hash: str) -> str | None:
        return next((a.id for a in self.batch.articles if a.content_hash == content_hash), None)

    def add_alias(self, url: str, article_id: str, reason: str) -> None:
        self.batch.aliases.append({"url": url, "article_id": article_id, "reason": reason})

    # --- discovery --------------------------------------------------------------------------------
    def unknown(self, urls: list[str]) -> list[tuple[str, str]]:
        """The article links among `urls` not known yet, as (url id, url), one per url id. Asked of
        the database each time, not of a set in memory: a long crawl's memory stays flat."""
        spellings: dict[str, list[str]] = {}
        for url in urls:
            spellings.setdefault(url_id(url), []).append(url)
        if not spellings:
            return []
        known = self.store.known({i: [*us, canonical_url(us[0])] for i, us in spellings.items()})
        self.stats.inc_value("refresh/links/known", len(known))
        self.stats.inc_value("refresh/links/new", len(spellings) - len(known))
        return [(i, us[0]) for i, us in spellings.items() if i not in known]

    def record_page(self, response, new: list[tuple[str, str]] = (), validators: tuple[str, str] | None = None,
                    pages: list[tuple[str, dict]] = (), unread: bool = False) -> None:
        """A discovery page is read: its new article links (url id, url) and the further pages to
        read ((url, how to read it)) join the frontier, it leaves the frontier itself (unless
        `unread`: what came was not the page, see crawler.failures), and its validators are stored;
        one transaction."""
        rows = [(url_id(url), url, json.dumps(page, sort_keys=True)) for url, page in pages]
        done = [] if unread else [url_id(u) for u in fetched_urls(response)]
        self.store.record_page(self.site, response.url, validators, list(new), self.crawl_id, rows, done)

    # --- settling article pages -------------------------------------------------------------------
    def _seen(self, urls: list[str], outcome: str, article_id: str = "") -> None:
        for url in urls:
            self.batch.seen.append(
                {"id": url_id(url), "url": url, "site": self.site, "outcome": outcome, "article_id": article_id}
            )

    # Each public method below adds to the batch, then flushes if it is full: what one page taught
    # us always lands in one batch.
    def settle(self, urls: list[str], outcome: str, article_id: str = "") -> None:
        """These URLs were fetched to a conclusion: never request them again."""
        self._seen(urls, outcome, article_id)
        self.maybe_flush()

    def add(self, article: Article) -> None:
        fetch = fetch_of(article) or Fetch(urls=[article.url])
        self.batch.articles.append(article)
        self._seen(fetch.urls, "article", article.id)
        if fetch.recheck:
            self.batch.rechecked.add(fetch.recheck)
        self.maybe_flush()

    def dropped(self, item, reason: str) -> None:
        fetch = fetch_of(item)
        if fetch is None:
            return
        self._seen(fetch.urls, reason, getattr(item, "id", ""))
        if fetch.recheck:
            self.batch.rechecked.add(fetch.recheck)
        self.maybe_flush()

    def gone(self, urls: list[str], status: int, article_id: str) -> None:
        """A stored article answered 404/410 to its recheck: it is marked gone, its URLs settled."""
        self._seen(urls, f"gone/{status}", article_id)
        self.batch.gone.add(article_id)
        self.maybe_flush()

    def failed(self, *urls: str) -> None:
        """A fetch that failed for good this time (retries spent): the frontier counts the attempt
        (of each URL given: a redirect chain's first one is the frontier's)."""
        self.batch.failed.update(url_id(url) for url in urls)
        self.maybe_flush()

    def maybe_flush(self) -> None:
        if len(self.batch.articles) >= self.batch_size or len(self.batch.seen) >= 2 * self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        batch, self.batch = self.batch, Batch()
        counts = self.store.write_batch(batch, self.crawl_id, archived=self.archived)
        for name, n in counts.items():
            if n:
                self.stats.inc_value(f"articles/{name}", n)
        self.stats.inc_value("storage/batches")

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def state_for(crawler) -> CrawlState:
    state = getattr(crawler, "_news_state", None)
    if state is None:
        s = crawler.settings
        state = CrawlState(crawler, s.get("DB_PATH"), max(1, s.getint("NEWS_BATCH_SIZE", 50)))
        state.site = getattr(crawler.spidercls, "site_key", "") or getattr(crawler.spidercls, "name", "")
        crawler._news_state = state
    return state
