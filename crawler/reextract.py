"""Re-extraction from WARC archives: `python -m crawler reextract [--db FILE] --warc FILES...`.

After a parser improvement (from our own WARC_DIR archives), or to ingest third-party archives
such as Common Crawl news WARCs (filtered to the registry's papers and their article URLs: see
crawler/warcread.py, which also counts what is skipped and why).

Two passes: a scan of every file (the offsets of the chosen records, per paper), then one crawl per
paper in one Scrapy process, as `refresh` runs them: a spider whose start() yields the articles
re-extracted from that paper's records (crawler.extract, with the encoding Scrapy finds for the
response, as in a crawl), through the project's item pipelines (validate, render, dedupe, store,
neardup) with their stats, the paper's lock and a `crawls` row. The store compares every
extracted column (a fixed byline or date counts, not only content_hash): an article whose output
changed is updated and its old version kept in `article_versions`; nothing is marked as fetched
now (Store._write_article, `archived`). A stored article whose page is now dropped (the new parser
calls it a photo page, say) is not deleted: counted (`reextract/stored_now_dropped`) and named in
the log. With `--only-new` (third-party archives, whose copies may be older than ours) a stored
article is left as it is (`reextract/skipped/stored`).
"""

from __future__ import annotations

import logging
from collections import Counter

import scrapy
from scrapy import signals
from warcio.archiveiterator import ArchiveIterator

from crawler.canonical import url_id
from crawler.extract import extract
from crawler.registry import default_registry
from crawler.state import Fetch, state_for
from crawler.warcread import Candidate, Scan, archived_response, scan, warc_files

logger = logging.getLogger(__name__)


class ReextractSpider(scrapy.Spider):
    """One paper's archived responses as start items; run_reextract makes one subclass per paper."""

    name = ""
    site_key = ""

    def __init__(self, *args, records: list[Candidate] = (), only_new: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.records, self.only_new = list(records), only_new

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.use_families = crawler.settings.getbool("NEWS_USE_FAMILIES", True)
        spider.max_bytes = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        state_for(crawler).archived = True
        crawler.signals.connect(spider.item_dropped, signal=signals.item_dropped)
        return spider

    def item_dropped(self, item, response, exception, spider=None):
        """A stored article whose page the pipelines now drop (the new parser says it is a photo page,
        say) is not deleted: it is counted and named, for a person to decide."""
        reason = str(exception).partition(":")[0]
        if reason.startswith("duplicate"):
            return
        article_id = item.id or url_id(item.canonical_url or item.url)
        if self.stored(article_id):
            self.crawler.stats.inc_value("reextract/stored_now_dropped")
            logger.warning("article %s stays stored, but its re-extraction was dropped (%s): %s", article_id, reason,
                           item.url)

    async def start(self):
        fh = None
        try:
            for candidate in self.records:
                if fh is None or fh.name != candidate.path:
                    if fh is not None:
                        fh.close()
                    fh = open(candidate.path, "rb")  # noqa: SIM115 - one file open at a time, closed below
                article = self.reextract(fh, candidate)
                if article is not None:
                    yield article
        finally:
            if fh is not None:
                fh.close()

    def reextract(self, fh, candidate: Candidate):
        stats = self.crawler.stats
        stats.inc_value("reextract/records")
        fh.seek(candidate.offset)
        response, reason = archived_response(next(iter(ArchiveIterator(fh, check_digests=True))), self.max_bytes)
        if response is None:  # the scan read it whole: only a file changed since would get here
            stats.inc_value(f"reextract/skipped/{reason}")
            return None
        try:
            article = extract(response.url, response.body, encoding=response.encoding, use_families=self.use_families)
        except Exception as exc:  # as in the crawl: one broken page never stops the run
            stats.inc_value("articles/errors/extract")
            logger.error("extraction failed for %s: %s: %s", response.url, type(exc).__name__, exc,
                         extra={"spider": self})
            return None
        if self.only_new and self.stored(url_id(article.canonical_url or article.url)):
            stats.inc_value("reextract/skipped/stored")  # --only-new: a stored article stays as it is
            return None
        article._fetch = Fetch(urls=[response.url])  # settled in seen_urls with the article, as a crawl would
        return article

    def stored(self, article_id: str) -> bool:
        return bool(state_for(self.crawler).store.db.execute("SELECT 1 FROM articles WHERE id = ?",
                                                             [article_id]).fetchone())


def counts(stats: dict) -> dict:
    """A paper's report, from its crawl's stats."""
    return {"outcome": stats.get("crawl/outcome") or "failed", "responses": stats.get("reextract/records", 0),
            "new": stats.get("articles/new", 0), "updated": stats.get("articles/updated", 0),
            "unchanged": stats.get("articles/unchanged", 0),
            "duplicate": stats.get("articles/duplicate/url", 0) + stats.get("articles/duplicate/content", 0),
            "dropped": stats.get("articles/dropped", 0), "extraction_errors": stats.get("articles/errors/extract", 0),
            "stored_now_dropped": stats.get("reextract/stored_now_dropped", 0),
            "skipped_stored": stats.get("reextract/skipped/stored", 0)}


def report(result: Scan, papers: dict[str, dict]) -> dict:
    per_paper = {key: counts(stats) for key, stats in papers.items()}
    totals = Counter()
    for c in per_paper.values():
        totals.update({k: v for k, v in c.items() if k not in ("outcome", "responses")})
    return {"files": result.files, "unfinished_files": result.unfinished, "unreadable_files": result.unreadable,
            "records": result.records, "responses": sum(len(c) for c in result.chosen.values()),
            "skipped": dict(result.skipped.most_common()), "articles": dict(totals), "papers": per_paper}


def _counts_text(c: dict) -> str:
    text = (f"{c['new']} new, {c['updated']} updated, {c['unchanged']} unchanged, {c['duplicate']} duplicate, "
            f"{c['dropped']} dropped, {c['extraction_errors']} extraction errors")
    if c["skipped_stored"]:
        text += f", {c['skipped_stored']} already stored (left as they are: --only-new)"
    if c["stored_now_dropped"]:
        text += f"; {c['stored_now_dropped']} stored articles now dropped (kept, see the log)"
    return text


def lines(summary: dict) -> list[str]:
    skipped = ", ".join(f"{n} {reason}" for reason, n in summary["skipped"].items()) or "nothing"
    unfinished = f" ({len(summary['unfinished_files'])} unfinished .open)" if summary["unfinished_files"] else ""
    out = [f"read {summary['records']} records in {summary['files']} files{unfinished}: {summary['responses']} "
           f"article responses of {len(summary['papers'])} papers re-extracted; skipped {skipped}"]
    out += [f"unreadable: {path}" for path in summary["unreadable_files"]]
    for key, c in summary["papers"].items():
        if c["outcome"] == "locked":
            out.append(f"{key}: skipped: another refresh is running; run again later")
        else:
            out.append(f"{key}: {c['outcome']}: {c['responses']} responses: {_counts_text(c)}")
    out.append(f"total: {_counts_text(summary['articles'])}" if summary["papers"] else "total: nothing to re-extract")
    return out


def run_reextract(paths: list[str], db: str, out=None, as_json: bool = False, only_new: bool = False,
                  **extra) -> int:
    """Re-extract the WARC files (or directories of them) `paths` into `db`; returns the exit code:
    0 when every paper's run ended ok, 1 when one did not (errors, locked) or a file was unreadable.
    `only_new`: articles already stored are left as they are (an older third-party copy must not
    replace them)."""
    import json

    from scrapy.crawler import CrawlerProcess

    from crawler.run import crawl_settings

    out = out or (lambda line: print(line, flush=True))
    files = warc_files(paths)
    extra.setdefault("LOG_LEVEL", "WARNING")  # the summary lines are the output; -s LOG_LEVEL=INFO for more
    settings = crawl_settings(db, **{**extra, "WARC_DIR": ""})  # re-reading an archive never writes one
    result = scan(files, default_registry(), settings.getint("DOWNLOAD_MAXSIZE"))
    crawlers = {}
    if result.chosen:
        process = CrawlerProcess(settings)
        for key in sorted(result.chosen):
            spidercls = type(f"Reextract{key.title()}Spider", (ReextractSpider,), {"name": key, "site_key": key})
            crawlers[key] = process.create_crawler(spidercls)
            process.crawl(crawlers[key], records=result.records_for(key), only_new=only_new)
        process.start()
    summary = report(result, {k: (c.stats.get_stats() if c.stats else {}) for k, c in crawlers.items()})
    for line in [json.dumps(summary, ensure_ascii=False, sort_keys=True)] if as_json else lines(summary):
        out(line)
    failed = bool(result.unreadable) or any(c["outcome"] != "ok" for c in summary["papers"].values())
    return 1 if failed else 0
