"""What workers send the ingest, per paper: a Redis list of JSON messages.

    news:KEY:items       list  messages from the workers, oldest first
    news:KEY:ingesting   list  messages the ingest has taken and not yet committed to SQLite
    news:KEY:workerstats list  each worker's final Scrapy stats (JSON), for the crawl row

Messages: {"kind": "article", "article": Article.to_dict(), "fetch": {"urls", "recheck"}} (the page's
redirect chain travels with the article, as in one process: crawler.state.Fetch), and
{"kind": "settle", "urls": [...], "outcome": "ignored", "article_id": ""} for a URL settled without
an article (robots.txt forbids it).

The ingest takes a chunk by moving it to `ingesting` (one Lua script), runs it through the
pipelines, commits the SQLite batch, then deletes `ingesting`; a killed ingest's chunk is put back
at the head of `items` when the next one starts (`restore`). Delivery is at least once: storing
an article twice leaves it unchanged.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from crawler.article import Article
from crawler.distributed.frontier import key
from crawler.state import Fetch, fetch_of

_TAKE = """
local chunk = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #chunk > 0 then
  redis.call('LTRIM', KEYS[1], #chunk, -1)
  redis.call('RPUSH', KEYS[2], unpack(chunk))
end
return chunk
"""
_RESTORE = """
local chunk = redis.call('LRANGE', KEYS[2], 0, -1)
for i = #chunk, 1, -1 do redis.call('LPUSH', KEYS[1], chunk[i]) end
redis.call('DEL', KEYS[2])
return #chunk
"""


def article_message(article: Article) -> str:
    fetch = fetch_of(article) or Fetch(urls=[article.url])
    return json.dumps({"kind": "article", "article": article.to_dict(), "fetch": asdict(fetch)}, ensure_ascii=False)


def settle_message(urls: list[str], outcome: str, article_id: str = "") -> str:
    return json.dumps({"kind": "settle", "urls": list(urls), "outcome": outcome, "article_id": article_id},
                      ensure_ascii=False)


def article_from(message: dict) -> Article:
    article = Article.from_dict(message["article"])
    article._fetch = Fetch(**message["fetch"])
    return article


class Inbox:
    def __init__(self, server, site: str):
        self.r = server
        self.items, self.ingesting = key(site, "items"), key(site, "ingesting")
        self.stats_key = key(site, "workerstats")
        self._take = server.register_script(_TAKE)
        self._restore = server.register_script(_RESTORE)

    def send(self, message: str) -> None:
        self.r.rpush(self.items, message)

    def take(self, n: int) -> list[dict]:
        return [json.loads(m) for m in self._take(keys=[self.items, self.ingesting], args=[n])]

    def commit(self) -> None:
        self.r.delete(self.ingesting)

    def restore(self) -> int:
        return int(self._restore(keys=[self.items, self.ingesting]))

    def waiting(self) -> int:
        return self.r.llen(self.items) + self.r.llen(self.ingesting)

    def send_stats(self, stats: dict) -> None:
        self.r.rpush(self.stats_key, json.dumps(stats, default=str))

    def take_stats(self) -> list[dict]:
        pipe = self.r.pipeline()
        pipe.lrange(self.stats_key, 0, -1)
        pipe.delete(self.stats_key)
        return [json.loads(s) for s in pipe.execute()[0]]
