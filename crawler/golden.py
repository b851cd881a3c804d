"""Golden outputs of the mirror: what a crawl of each paper's mirror must leave in SQLite.

`python -m crawler fixtures golden` regenerates them from the mirror pages with the same code the
pipelines run (extraction, validation, rendering, exact dedupe); review the diff before committing.
Per paper, tests/golden/<key>/ holds one `<id>.txt` document per stored article and `expected.json`
(stored ids with their URL, the dropped URLs with their reason, the aliases).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from crawler.article import ARTICLE
from crawler.canonical import canonical_url, url_id
from crawler.extract import extract
from crawler.registry import default_registry
from crawler.render import content_hash, render_document


def expected_for_site(pages: list[tuple[str, bytes]], key: str) -> tuple[dict, dict[str, str]]:
    """Expected crawl result of one paper, from (url, html) of every article page its mirror serves."""
    site = default_registry()[key]
    articles, dropped, aliases, by_hash = {}, {}, {}, {}
    docs: dict[str, str] = {}
    duplicates = 0
    for url, html in sorted(pages):
        art = extract(url, html)
        if art.page_kind != ARTICLE or not art.title or not art.paragraphs:
            dropped[url] = f"not_article/{art.page_kind}" if art.page_kind != ARTICLE else "empty_body"
            continue
        art.id = url_id(art.canonical_url)
        art.content_hash = content_hash(art)
        if canonical_url(url) != art.canonical_url:
            aliases[url] = art.id  # fetched under another URL than its canonical one
        if art.id in articles:
            duplicates += 1
            continue
        owner = by_hash.get(art.content_hash)
        if owner:
            aliases[art.canonical_url] = owner
            duplicates += 1
            continue
        by_hash[art.content_hash] = art.id
        articles[art.id] = {"url": art.canonical_url, "title": art.title, "published_at": art.published_at,
                            "author": art.author}
        docs[art.id] = render_document(art, short_name=site.short_name)
    return {"articles": articles, "dropped": dropped, "aliases": aliases, "duplicates": duplicates}, docs


def write_golden(repo: Path) -> int:
    from crawler.fixtures import mirror_articles

    by_site: dict[str, list[tuple[str, bytes]]] = {}
    for item in mirror_articles(repo):
        html = Path(item["file"]).read_bytes()
        for url in [item["url"], *item.get("aliases", [])]:
            by_site.setdefault(item["site"], []).append((url, html))
    written = 0
    for key, pages in sorted(by_site.items()):
        out = repo / "tests" / "golden" / key
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        expected, docs = expected_for_site(pages, key)
        (out / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                                           encoding="utf-8")
        for art_id, text in docs.items():
            (out / f"{art_id}.txt").write_text(text, encoding="utf-8")
        written += len(docs) + 1
    return written
